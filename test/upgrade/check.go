package upgrade

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// Check repeats every read of reads against srv and returns one line for
// each that no longer answers as recorded. A later Ward may add fields and
// records to what it answers, but every value recorded must still be there,
// equal: a record lost, a field gone or changed, a sealed value that no
// longer decrypts (the read fails) or a file whose bytes differ. The only
// exception is a field in dropped (its JSON path in the answer, such as
// ".facts.hhs_notice_at", with the reason), which may be gone if what was
// recorded in it was empty: a field removed on purpose that held no data.
func Check(srv *Server, tokens map[string]string, reads []Read, dropped map[string]string) []string {
	var problems []string
	for _, r := range reads {
		code, raw, err := srv.Do(tokens[r.Role], "GET", r.Path, nil, "")
		if err != nil || code != 200 {
			problems = append(problems, fmt.Sprintf("GET %s: %d %v %.300s", r.Path, code, err, raw))
			continue
		}
		if r.SHA256 != "" {
			if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != r.SHA256 {
				problems = append(problems, fmt.Sprintf("GET %s: the file's SHA-256 is %x, was %s", r.Path, sum, r.SHA256))
			}
			continue
		}
		var want, got any
		if err := decode(r.Body, &want); err != nil {
			problems = append(problems, fmt.Sprintf("%s: recorded body: %v", r.Path, err))
			continue
		}
		if err := decode(raw, &got); err != nil {
			problems = append(problems, fmt.Sprintf("GET %s: %v", r.Path, err))
			continue
		}
		for _, d := range contains(want, got, "", dropped) {
			problems = append(problems, fmt.Sprintf("GET %s: %s", r.Path, d))
		}
	}
	return problems
}

func decode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// contains reports where got lacks something of want: an object must have
// every key of want's with a value that contains want's; an array the same
// length with each element containing want's; anything else must be equal.
func contains(want, got any, at string, dropped map[string]string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: an object became %T", orRoot(at), got)}
		}
		var diffs []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				if _, why := dropped[at+"."+k]; !why || !empty(wv) {
					diffs = append(diffs, fmt.Sprintf("%s.%s: gone (was %v)", at, k, wv))
				}
				continue
			}
			diffs = append(diffs, contains(wv, gv, at+"."+k, dropped)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: an array became %T", orRoot(at), got)}
		}
		if len(g) != len(w) {
			extra, _ := json.Marshal(g[min(len(w), len(g)):])
			return []string{fmt.Sprintf("%s: %d items, were %d (from the first new or changed: %.500s)", orRoot(at), len(g), len(w), extra)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, contains(w[i], g[i], at+"["+strconv.Itoa(i)+"]", dropped)...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: %v, was %v", orRoot(at), got, want)}
		}
		return nil
	}
}

// empty reports whether a recorded JSON value carries no data: null, false,
// zero, "", the zero time, or an empty array or object.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case json.Number:
		return x.String() == "0"
	case string:
		return x == "" || x == "0001-01-01T00:00:00Z"
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func orRoot(at string) string {
	if at == "" {
		return "(body)"
	}
	return at
}

// Fixture files under a testdata directory, gzipped (the SQLite file is
// mostly empty pages, the dump and manifest text); the master key plain.
const (
	MasterKeyFile = "master.key"
	SQLiteFile    = "sqlite.db.gz"
	PostgresFile  = "postgres.sql.gz"
)

// ManifestFile is the manifest of dialect's fixture.
func ManifestFile(dialect string) string { return "manifest-" + dialect + ".json.gz" }

// ReadGzip returns the content of a gzipped file.
func ReadGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// WriteGzip writes b to path gzipped, with no name or time in the header
// so that the same content makes the same file.
func WriteGzip(path string, b []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// ReadManifest reads a manifest file.
func ReadManifest(path string) (*Manifest, error) {
	raw, err := ReadGzip(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// AuditEntries runs ward audit verify on s and returns the chain's length,
// or an error naming the first bad entry.
func AuditEntries(s Storage) (int, error) {
	code, out, errs := s.Run("", "audit", "verify")
	if code != 0 {
		return 0, fmt.Errorf("ward audit verify: exit %d: %s%s", code, out, errs)
	}
	m := regexp.MustCompile(`intact: (\d+) entries`).FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("ward audit verify: unexpected output %q", out)
	}
	return strconv.Atoi(m[1])
}

// FixtureSchema is the schema name a PostgreSQL fixture is dumped from;
// the test loads the dump into a schema of its own in its place.
const FixtureSchema = "ward_upgrade_fixture"

// PostgresDump turns a pg_dump of FixtureSchema into statements that
// recreate its tables and rows in schema, which must exist: the schema is
// renamed, its CREATE SCHEMA dropped, and psql's meta-commands (\restrict)
// left out.
func PostgresDump(dump, schema string) string {
	var b strings.Builder
	for line := range strings.Lines(dump) {
		if strings.HasPrefix(line, `\`) || strings.HasPrefix(line, "CREATE SCHEMA "+FixtureSchema+";") {
			continue
		}
		b.WriteString(line)
	}
	return strings.ReplaceAll(b.String(), FixtureSchema+".", schema+".")
}

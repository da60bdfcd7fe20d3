package breach_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// failingReader gives n bytes of r, then fails, as a dropped upload does.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	k, err := f.r.Read(p)
	f.n -= k
	return k, err
}

// TestIndividualsResume: an import that fails after its first batch
// committed resumes, with the file's hash, after the last committed line:
// it creates nothing twice, the counts cover the whole file, and the
// progress callback starts where the first run stopped. Another file's
// hash starts a new import.
func TestIndividualsResume(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		sec := as(authz.RoleSecurityOfficer, "sam")
		var file bytes.Buffer
		rows := breach.ImportBatchRows + 2000
		if err := writeBenchCSV(&file, rows); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(file.Bytes())
		hash := hex.EncodeToString(sum[:])
		if _, err := e.svc.ImportIndividualsWith(sec, e.ref, strings.NewReader("name\nA\n"), breach.ImportOptions{SHA256: "abc"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a short hash: %v", err)
		}
		// The upload breaks 100 lines into the second batch: the first
		// has committed.
		end := 0
		for range breach.ImportBatchRows + 101 {
			end += bytes.IndexByte(file.Bytes()[end:], '\n') + 1
		}
		cut := &failingReader{r: bytes.NewReader(file.Bytes()), n: end}
		if _, err := e.svc.ImportIndividualsWith(sec, e.ref, cut, breach.ImportOptions{SHA256: hash}); err == nil {
			t.Fatal("a broken upload imported")
		}
		var onCase int
		if err := d.R.QueryRow(`SELECT count(*) FROM breach_individuals`).Scan(&onCase); err != nil {
			t.Fatal(err)
		}
		if onCase != breach.ImportBatchRows-breach.ImportBatchRows/1000 {
			t.Fatalf("%d individuals after the first batch", onCase)
		}
		var progress []int
		res, err := e.svc.ImportIndividualsWith(sec, e.ref, bytes.NewReader(file.Bytes()), breach.ImportOptions{SHA256: strings.ToUpper(hash),
			Progress: func(n int) { progress = append(progress, n) }})
		if err != nil {
			t.Fatal(err)
		}
		rejected := rows / 1000
		if !res.Resumed || res.Lines != rows || res.Created != rows-rejected || res.Updated != 0 || res.Rejected != rejected ||
			res.Counts.Individuals != rows-rejected {
			t.Fatalf("resumed import: %+v", res)
		}
		if len(progress) != 2 || progress[0] != breach.ImportBatchRows || progress[1] != rows {
			t.Fatalf("progress: %v", progress)
		}
		// Finished: the same file again is a new, idempotent import.
		again, err := e.svc.ImportIndividualsWith(sec, e.ref, bytes.NewReader(file.Bytes()), breach.ImportOptions{SHA256: hash})
		if err != nil || again.Resumed || again.Created != 0 || again.Updated != rows-rejected || again.ID == res.ID {
			t.Fatalf("import after a finished one: %+v %v", again, err)
		}
		var imports int
		if err := d.R.QueryRow(`SELECT count(*) FROM breach_individual_imports WHERE finished_at IS NOT NULL`).Scan(&imports); err != nil {
			t.Fatal(err)
		}
		if imports != 2 {
			t.Fatalf("%d finished imports", imports)
		}
	})
}

// TestIndividualsDuplicatesAcrossBatches: the same person twice in one
// batch and again in a later batch (prepared while the first was being
// written) is one individual, updated.
func TestIndividualsDuplicatesAcrossBatches(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		var b strings.Builder
		b.WriteString("name,state,dob,deceased\n")
		b.WriteString("Twice Over,WA,1980-01-01,no\nTWICE  over,WA,1980-01-01,no\n")
		for i := range breach.ImportBatchRows + 10 {
			fmt.Fprintf(&b, "Person %d,OR,1980-01-01,no\n", i)
		}
		b.WriteString("Twice Over,WA,1980-01-01,yes\n")
		res, err := e.svc.ImportIndividuals(as(authz.RoleSecurityOfficer, "sam"), e.ref, strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != breach.ImportBatchRows+10+1 || res.Updated != 2 || res.Counts.Individuals != res.Created {
			t.Fatalf("import: %+v", res)
		}
		var deceased bool
		if err := d.R.QueryRow(`SELECT deceased FROM breach_individuals WHERE state = 'WA'`).Scan(&deceased); err != nil || !deceased {
			t.Fatalf("the later row should win: deceased %v, %v", deceased, err)
		}
	})
}

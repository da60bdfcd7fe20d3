package keys_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

func TestWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Ransomware on FILE server", []string{"file", "on", "ransomware", "server"}},
		{"db_backup bucket: 100% public!", []string{"100", "backup", "bucket", "db", "public"}},
		{"a 7 x-ray", []string{"7", "ray"}},
		{"Ｆａｘ to Zoë, zoë", []string{"fax", "to", "zoë"}}, // full-width folded (NFKC); one word once
		{"ÉCOLE école", []string{"école"}},
		{"", []string{}},
		{"%_\\", []string{}},
		{strings.Repeat("long", 20), []string{strings.Repeat("long", 16)}},
	} {
		if got := keys.Words(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Words(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSearchTokens: a word's token is the same in any case and across
// loads of the keyring, differs between databases (each has its own
// random key), and holds nothing of the word; the key is stored sealed.
func TestSearchTokens(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		kr := load(t, d, master(t, 1))
		toks := kr.SearchTokens("Quillfeather fax")
		if len(toks) != 2 || slices.Contains(toks, "") {
			t.Fatalf("tokens %q", toks)
		}
		if again := load(t, d, master(t, 1)).SearchTokens("FAX quillfeather"); !slices.Equal(again, toks) {
			t.Errorf("tokens after reloading %q, want %q", again, toks)
		}
		for _, tok := range toks {
			if strings.Contains(strings.ToLower(tok), "quill") || strings.Contains(strings.ToLower(tok), "fax") {
				t.Errorf("token %q shows its word", tok)
			}
		}
		other := dbtest.Open(t, dbtest.Targets(t)[0].URL)
		if slices.Equal(load(t, other, master(t, 1)).SearchTokens("Quillfeather fax"), toks) {
			t.Error("two databases share a search key")
		}
		var stored string
		if err := d.R.QueryRow("SELECT key FROM search_keys WHERE id = $1", keys.SearchTitles).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !keys.Sealed(stored) {
			t.Errorf("search key stored as %q, not sealed", stored)
		}
	})
}

// TestSealPlaintext: values written before their column was sealed are
// sealed, each bound to its row, batch by batch; a value already sealed is
// left as it is; the callback sees each plaintext in the transaction that
// seals it; a second run finds nothing to do.
func TestSealPlaintext(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		kr := load(t, d, master(t, 1))
		if _, err := d.W.Exec(`INSERT INTO users (id, username, display_name, email, role, password_hash, disabled,
			created_at, updated_at) VALUES ('u1', 'ann', 'Ann', '', 'responder', 'x', false, $1, $1)`, now); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.Exec(`INSERT INTO incidents (id, number, title, description, severity, category, phi_suspected,
			detected_at, created_at, updated_at, status, resolution, commander, customers, not_applicable, created_by,
			version, restricted) VALUES ('i1', 'INC-2026-0001', 't', '', 'sev3', 'other', false, $1, $1, $1, 'detected',
			'', '', '[]', '[]', 'x', 1, false)`, now); err != nil {
			t.Fatal(err)
		}
		sealed, err := kr.Seal([]byte("already sealed"), "incident_tasks", "title", "t3")
		if err != nil {
			t.Fatal(err)
		}
		for id, title := range map[string]string{"t1": "Call Zebediah Quillfeather", "t2": "v1: not sealed", "t3": sealed, "t4": ""} {
			if _, err := d.W.Exec(`INSERT INTO incident_tasks (id, incident_id, title, owner, done, created_at, updated_at)
				VALUES ($1, 'i1', $2, '', false, $3, $3)`, id, title, now); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]string{}
		n, err := kr.SealPlaintext(context.Background(), keys.IncidentTaskTitle, 1,
			func(_ context.Context, _ *sql.Tx, id, plain string) error { seen[id] = plain; return nil })
		if err != nil || n != 2 {
			t.Fatalf("SealPlaintext = %d, %v; want 2", n, err)
		}
		if len(seen) != 2 || seen["t1"] != "Call Zebediah Quillfeather" || seen["t2"] != "v1: not sealed" {
			t.Errorf("callback saw %v", seen)
		}
		for id, want := range map[string]string{"t1": "Call Zebediah Quillfeather", "t2": "v1: not sealed", "t3": "already sealed"} {
			var v string
			if err := d.R.QueryRow("SELECT title FROM incident_tasks WHERE id = $1", id).Scan(&v); err != nil {
				t.Fatal(err)
			}
			got, err := kr.Open(v, "incident_tasks", "title", id)
			if err != nil || string(got) != want {
				t.Errorf("%s: %q %v, want %q", id, got, err, want)
			}
		}
		if n, err := kr.SealPlaintext(context.Background(), keys.IncidentTaskTitle, 1, nil); err != nil || n != 0 {
			t.Errorf("second run = %d, %v", n, err)
		}
		// The first pass recorded the column as free of plaintext, so later
		// starts read none of its values: plaintext that only a Ward older
		// than the column's sealing writes is left to `ward keys rotate`.
		var done int
		if err := d.R.QueryRow("SELECT count(*) FROM counters WHERE name = 'plaintext_sealed:incident_tasks.title'").Scan(&done); err != nil || done != 1 {
			t.Errorf("column recorded as sealed %d times (%v)", done, err)
		}
		if _, err := d.W.Exec("UPDATE incident_tasks SET title = 'as an older Ward wrote it' WHERE id = 't4'"); err != nil {
			t.Fatal(err)
		}
		if n, err := kr.SealPlaintext(context.Background(), keys.IncidentTaskTitle, 1, nil); err != nil || n != 0 {
			t.Errorf("a run after the column was recorded sealed = %d, %v; want 0 (nothing read)", n, err)
		}
		if _, err := kr.SealPlaintext(context.Background(), keys.Column{Table: "incidents", Name: "severity", RowID: "id"}, 1, nil); err == nil {
			t.Error("sealed a column outside keys.Columns")
		}
	})
}

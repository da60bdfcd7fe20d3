package db_test

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSQLiteWriterJournalsInMemory: the writer keeps statement journals in
// memory (temp_store 2, MEMORY), so a savepoint's journal never spills to
// a temporary file; readers keep SQLite's default (0).
func TestSQLiteWriterJournalsInMemory(t *testing.T) {
	d := open(t, filepath.Join(t.TempDir(), "ward.db"))
	var w, r int
	if err := d.W.QueryRowContext(context.Background(), "PRAGMA temp_store").Scan(&w); err != nil {
		t.Fatal(err)
	}
	if err := d.R.QueryRowContext(context.Background(), "PRAGMA temp_store").Scan(&r); err != nil {
		t.Fatal(err)
	}
	if w != 2 || r != 0 {
		t.Fatalf("temp_store: writer %d, reader %d; want 2 and 0", w, r)
	}
}

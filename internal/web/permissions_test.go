package web

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestPermissionsDoc fails when docs/PERMISSIONS.md is not what the code
// says; WARD_UPDATE_DOCS=1 writes it.
func TestPermissionsDoc(t *testing.T) {
	want, err := PermissionsDoc()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", PermissionsPath)
	if os.Getenv("WARD_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: run WARD_UPDATE_DOCS=1 go test ./internal/web -run TestPermissionsDoc", PermissionsPath)
	}
}

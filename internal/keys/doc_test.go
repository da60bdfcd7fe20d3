package keys_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/keys"
)

// TestEncryptionDocListsColumns: the table of sealed columns in
// docs/ENCRYPTION.md names exactly keys.Columns.
func TestEncryptionDocListsColumns(t *testing.T) {
	raw, err := os.ReadFile("../../docs/ENCRYPTION.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	start := strings.Index(doc, "| column | holds | sealed by |")
	if start < 0 {
		t.Fatal("docs/ENCRYPTION.md has no table of sealed columns")
	}
	table, _, _ := strings.Cut(doc[start:], "\n\n")
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_]+)` \\|")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		listed = append(listed, m[1])
	}
	var want []string
	for _, c := range keys.Columns() {
		want = append(want, c.String())
	}
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("docs/ENCRYPTION.md lists\n%v\nkeys.Columns has\n%v", listed, want)
	}
}

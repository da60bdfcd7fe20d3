package report

import (
	"crypto/ed25519"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
)

var testKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

func errorFields(err error) string {
	e, ok := apperr.As(err)
	if !ok {
		return err.Error()
	}
	var fs []string
	for _, f := range e.Fields {
		fs = append(fs, f.Field)
	}
	return strings.Join(fs, " ")
}

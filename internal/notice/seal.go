package notice

import (
	"fmt"

	"github.com/wardhq/ward/internal/keys"
)

// open opens a value sealed for column c of row rowID (keys.Column.OpenText:
// an empty value stays empty), its error naming package notice. Values are
// sealed with keys.Column.SealText: every free-text field may hold PHI, so
// it reaches the database only sealed (45 CFR 164.312(a)(2)(iv)).
func (s *Service) open(v string, c keys.Column, rowID string) (string, error) {
	plain, err := c.OpenText(s.keys, v, rowID)
	if err != nil {
		return "", fmt.Errorf("notice: %w", err)
	}
	return plain, nil
}

// openAll opens each value *p of column c of row rowID in place.
func (s *Service) openAll(rowID string, vs map[keys.Column]*string) error {
	for c, p := range vs {
		v, err := s.open(*p, c, rowID)
		if err != nil {
			return err
		}
		*p = v
	}
	return nil
}

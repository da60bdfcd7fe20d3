package notice

import (
	"fmt"

	"github.com/wardhq/ward/internal/keys"
)

// seal encrypts v for column c of row rowID (keys.Columns); an empty
// value stays empty. Templates, settings, receipts, errors and return
// reasons may hold PHI, so they reach the database only sealed (45 CFR
// 164.312(a)(2)(iv)).
func (s *Service) seal(v string, c keys.Column, rowID string) (string, error) {
	if v == "" {
		return "", nil
	}
	return s.keys.Seal([]byte(v), c.Table, c.Name, rowID)
}

// open decrypts a value sealed for column c of row rowID.
func (s *Service) open(v string, c keys.Column, rowID string) (string, error) {
	if v == "" {
		return "", nil
	}
	b, err := s.keys.Open(v, c.Table, c.Name, rowID)
	if err != nil {
		return "", fmt.Errorf("notice: %w", err)
	}
	return string(b), nil
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

package breach

import (
	"fmt"

	"github.com/wardhq/ward/internal/keys"
)

// seal encrypts v for column c of row rowID (keys.Columns); an empty
// value stays empty. What people type into a case (its facts, the
// determination's rationale and reasons, the evidence a notice was made)
// may hold PHI, so it reaches the database only sealed (45 CFR
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
		return "", fmt.Errorf("breach: %w", err)
	}
	return string(b), nil
}

// determinationID names version v of case caseID's determination, which
// binds its sealed values to it (keys.DeterminationRowID).
func determinationID(caseID string, v int) string { return fmt.Sprintf("%s/%d", caseID, v) }

// obligationID names case caseID's obligation key, which binds its sealed
// values to it (keys.ObligationRowID).
func obligationID(caseID, key string) string { return caseID + "/" + key }

package breach

import (
	"fmt"

	"github.com/wardhq/ward/internal/keys"
)

// open opens a value sealed for column c of row rowID (keys.Column.OpenText:
// an empty value stays empty), its error naming package breach. Values are
// sealed with keys.Column.SealText: every free-text field may hold PHI, so
// it reaches the database only sealed (45 CFR 164.312(a)(2)(iv)).
func (s *Service) open(v string, c keys.Column, rowID string) (string, error) {
	plain, err := c.OpenText(s.keys, v, rowID)
	if err != nil {
		return "", fmt.Errorf("breach: %w", err)
	}
	return plain, nil
}

// determinationID names version v of case caseID's determination, which
// binds its sealed values to it (keys.DeterminationRowID).
func determinationID(caseID string, v int) string { return fmt.Sprintf("%s/%d", caseID, v) }

// obligationID names case caseID's obligation key, which binds its sealed
// values to it (keys.ObligationRowID).
func obligationID(caseID, key string) string { return caseID + "/" + key }

package incident

import (
	"context"
	"database/sql"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// RecordReportRead records in the audit trail that the caller, who may
// see PHI, took a document about incident ref out of Ward (what names it:
// "investigation_report:pdf"). It is a read of PHI (45 CFR 164.312(b)).
// It returns the time it recorded, the document's time.
func (s *Service) RecordReportRead(ctx context.Context, ref, what string) (time.Time, error) {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return time.Time{}, err
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	if err != nil {
		return time.Time{}, err
	}
	now := s.clock.Now()
	return now, s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "incident.phi_read", ObjectType: "incident",
			ObjectID: inc.ID, Change: []string{what}})
		return err
	})
}

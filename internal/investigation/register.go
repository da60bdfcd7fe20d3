package investigation

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/labels"
)

// RegisterHeader is the first row of the incident register's CSV.
var RegisterHeader = []string{"Incident", "Title", "Category", "Severity", "Phase", "Closed as", "PHI suspected",
	"Occurred (UTC)", "Detected (UTC)", "Closed (UTC)", "Incident commander", "Restricted"}

func cell(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// RegisterCSV is the incident register as the caller may see it, newest
// first, as CSV for auditors: one row per incident in words, cells a
// spreadsheet would run as a formula made safe (audit.CSVCell). Titles are
// read as the incident list reads them: withheld for a role that may not
// see PHI, audited for one that may.
func RegisterCSV(ctx context.Context, incs *incident.Service) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(RegisterHeader); err != nil {
		return nil, err
	}
	f := incident.Filter{Limit: incident.MaxLimit, OmitPHI: true}
	for {
		page, err := incs.List(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, inc := range page.Items {
			closedAs := ""
			if inc.Resolution != "" {
				closedAs = labels.Of(string(inc.Resolution))
			}
			row := []string{inc.Number, inc.Title, labels.Of(string(inc.Category)), labels.Of(string(inc.Severity)),
				labels.Of(string(inc.Status)), closedAs, yesNo(inc.PHISuspected), cell(inc.OccurredAt), cell(&inc.DetectedAt),
				cell(inc.ClosedAt), inc.Commander, yesNo(inc.Restricted)}
			for i := range row {
				row[i] = audit.CSVCell(row[i])
			}
			if err := w.Write(row); err != nil {
				return nil, err
			}
		}
		if page.Next == nil {
			break
		}
		f.After = page.Next
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("incident register: %w", err)
	}
	return b.Bytes(), nil
}

package notice

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/report"
)

// ProofFiles are the notices' part of a case's proof bundle, the
// documentation of notices made that 164.530(j) keeps and 164.414(b)
// puts on the entity to produce:
//
//   - notices/summary.json: counts by kind, channel and status; every
//     generation run with the template version it used and each file's
//     name, size and SHA-256 (the files themselves hold PHI and stay
//     out); the substitute notice and its 90-day periods;
//   - notices/templates.json: each template version a run used, with
//     who approved it and when;
//   - notices/notices.csv: every notice with its delivery evidence
//     (sent at and by, the provider's receipt, returns, re-sends).
//     Individuals are named only by their id in Ward; a delivery's error
//     text and a return's reason are left out, since a mail server's
//     answer or a mail house's note may repeat an address.
//
// It is a report.Producer: the report service checks the caller's
// permission before it calls it.
func (s *Service) ProofFiles(ctx context.Context, c breach.Case) ([]report.File, error) {
	sum, err := s.summarize(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	summary, err := proofJSON("notices/summary.json", sum)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+templateColumns+` FROM notice_templates
		WHERE id IN (SELECT template_ref FROM notice_runs WHERE case_id = $1) ORDER BY template_id, version`, c.ID)
	used, err := db.Collect(rows, err, "list the templates of notices", func(r *sql.Rows) (Template, error) { return s.scanTemplate(r) })
	if err != nil {
		return nil, err
	}
	templates, err := proofJSON("notices/templates.json", used)
	if err != nil {
		return nil, err
	}
	list, err := s.noticesCSV(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return []report.File{summary, templates, {Name: "notices/notices.csv", Body: list}}, nil
}

func proofJSON(name string, v any) (report.File, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return report.File{}, fmt.Errorf("%s: %w", name, err)
	}
	return report.File{Name: name, Body: append(b, '\n')}, nil
}

// noticesCSV writes every notice of case caseID, oldest first.
func (s *Service) noticesCSV(ctx context.Context, caseID string) ([]byte, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+noticeColumns+` FROM notices WHERE case_id = $1 ORDER BY created_at, id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	defer rows.Close()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"id", "run_id", "kind", "channel", "individual_id", "recipient", "status", "batch", "page", "pages",
		"attempts", "sent_at", "sent_by", "receipt", "returned_at", "resent_of", "created_at"})
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for rows.Next() {
		n, err := s.scanNotice(rows)
		if err != nil {
			return nil, err
		}
		_ = w.Write([]string{n.ID, n.RunID, string(n.Kind), n.Channel, n.IndividualID, n.Recipient, n.Status,
			strconv.Itoa(n.Batch), strconv.Itoa(n.Page), strconv.Itoa(n.Pages), strconv.Itoa(n.Attempts), ts(n.SentAt), n.SentBy,
			n.Receipt, ts(n.ReturnedAt), n.ResentOf, n.CreatedAt.UTC().Format(time.RFC3339)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

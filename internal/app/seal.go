package app

import (
	"context"
	"log/slog"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// sealPlaintext seals, before the server serves, every value that is still
// in plaintext in a column sealed since it was written (after an upgrade:
// incident titles, task titles, alert summaries, break-glass reasons,
// what monitoring tools send beside the summary, delivery errors,
// maintenance reasons, the breach and notice free text; issue #15),
// indexes the incident titles for search and hashes alerts' dedup and
// group keys (alert.Intake.SealOldAlerts), and moves the commanders and
// task owners that are free text rather than a Ward user's username into
// sealed timeline notes (incident.Service.MoveUnknownNames). Each batch is
// its own transaction, so an interrupted start leaves nothing half-done
// and the next start finishes; once a column's pass has reached the end
// of its table, later starts cost one query for it (keys.SealPlaintext).
// `ward keys rotate` seals such values too (but does not index).
func sealPlaintext(ctx context.Context, kr *keys.Keyring, incidents *incident.Service, alerts *alert.Intake, log *slog.Logger) error {
	n, err := incidents.IndexTitles(ctx, 500)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("incident_titles_indexed", "incidents", n)
	}
	sealed, groups, err := alerts.SealOldAlerts(ctx, 500)
	if err != nil {
		return err
	}
	if sealed > 0 || groups > 0 {
		log.Info("alert_fields_sealed", "alerts", sealed, "groups", groups)
	}
	cols := []keys.Column{keys.IncidentTaskTitle, keys.AlertSummary, keys.BreakGlassReason, keys.OfficerAlertReason,
		keys.NotificationLastError, keys.NotificationStatusLine, keys.MaintenanceReason,
		keys.RuleWebhookDeliveryURL}
	// The breach and notice free text, sealed since (issue #15).
	cols = append(cols, keys.BreachFacts, keys.BreachDeterminationBody, keys.BreachDeterminationWhy, keys.BreachDeterminationReason, keys.BreachObligationMetReason,
		keys.NoticeTemplateSubject, keys.NoticeTemplateBody, keys.NoticeSettings, keys.NoticeRunSettings, keys.ReportHHSPacket,
		keys.NoticeRecipient, keys.NoticeReceipt, keys.NoticeError, keys.NoticeReturnReason, keys.NoticeFileName)
	for _, c := range cols {
		n, err := kr.SealPlaintext(ctx, c, 500, nil)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("plaintext_sealed", "column", c.String(), "values", n)
		}
	}
	// The commanders and task owners that name no Ward user, written
	// before Ward required one, into sealed timeline notes (issue #15).
	moved, err := incidents.MoveUnknownNames(ctx)
	if err != nil {
		return err
	}
	if moved > 0 {
		log.Info("unknown_names_moved", "incidents", moved)
	}
	return nil
}

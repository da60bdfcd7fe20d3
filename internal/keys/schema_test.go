package keys_test

import (
	"slices"
	"testing"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

// notFreeText are the TEXT columns that hold no text anyone typed or any
// tool sent about an incident, and so need no sealing. Each is one of:
// an identifier or a foreign key; an enumeration or a fixed vocabulary;
// a hash, a digest, public key material or a keyed token; a value Ward
// derives itself (JSON of computed fields); the name of a member of staff
// as the audit trail names them; or configuration that administrators
// write about the organisation and its tools (names of services, policies,
// schedules, rules; staff accounts), which is not patient data.
var notFreeText = []string{
	// identifiers and foreign keys
	"action_links.page_id", "action_links.user_id", "calendar_feeds.id", "calendar_feeds.user_id", "calendar_feeds.schedule_id", "alert_groups.incident_id", "alert_groups.service_id", "alerts.id",
	"alerts.incident_id", "alerts.integration_id", "alerts.service_id", "api_tokens.id", "audit_break_reviews.incident_id", "audit_log.object_id",
	"audit_log.request_id", "breach_cases.id", "breach_cases.incident_id", "breach_determinations.case_id",
	"breach_individual_imports.case_id", "breach_individual_imports.id", "breach_individuals.case_id",
	"breach_individuals.id", "breach_notice_tallies.case_id", "breach_signature_requests.case_id", "breach_signature_requests.asker", "breach_obligations.case_id", "breach_parties.id", "breach_state_tables.id",
	"break_glass_grants.id", "break_glass_grants.incident_id", "break_glass_grants.user_id", "contact_methods.id",
	"contact_methods.user_id", "escalation_policies.id", "heartbeats.integration_id", "incident_events.id",
	"incident_events.incident_id", "incident_members.incident_id", "incident_members.user_id",
	"incident_stakeholders.group_id", "incident_stakeholders.incident_id", "incident_tasks.id",
	"incident_tasks.incident_id", "incident_title_tokens.incident_id", "incidents.id", "integration_keys.id",
	"integration_keys.service_id", "integration_keys_shown.integration_id", "integration_keys_shown.session_id", "maintenance_windows.id", "maintenance_windows.service_id", "notice_files.case_id",
	"notice_files.id", "notice_files.run_id", "notice_runs.case_id", "notice_runs.id", "notice_settings.case_id",
	"notice_substitutes.case_id", "notice_templates.id", "notice_templates.template_id", "notices.case_id", "notice_counts.case_id",
	"notice_individual_counts.case_id", "notice_individual_counts.individual_id", "notice_returned_counts.case_id",
	"notices.id", "notices.individual_id", "notices.resent_of", "notices.run_id", "notification_rules.contact_method_id",
	"notification_rules.id", "notification_rules.user_id", "notifications.contact_method_id", "notifications.id",
	"notifications.incident_id", "notifications.page_id", "notifications.status_update_id", "notifications.provider_id", "notifications.user_id", "notifications.claimed_by", "paging_nodes.id", "periodic_tasks.name", "periodic_tasks.lease_holder", "periodic_task_nodes.node",
	"audit_pending.object_id", "audit_pending.request_id", "audit_sequencer.node",
	"officer_alerts.id", "officer_alerts.incident_id", "officer_alerts.user_id", "pages.id", "pages.incident_id",
	"pages.policy_id", "pages.service_id", "service_changes.id", "service_changes.service_id", "service_changes.integration_id", "recovery_codes_shown.session_id", "report_case_details.case_id",
	"report_hhs_filings.case_id", "breach_determination_drafts.case_id", "breach_determination_drafts.user_id", "report_hhs_filings.id", "report_org_profile.id", "report_reminders.case_id",
	"report_signing_keys.id", "rule_firings.incident_id", "rule_firings.rule_id", "rules.id",
	"alert_rules.id", "alert_rules.route_service_id", "alerts.suppressed_by",
	"schedule_overrides.id", "schedule_overrides.replaces", "schedule_overrides.schedule_id",
	"schedule_overrides.user_id", "schedules.id", "search_keys.id", "services.escalation_policy_id", "services.id",
	"sessions.id", "sessions.user_id", "setup_tokens.id", "sla_events.incident_id", "stakeholder_groups.id",
	"stakeholder_members.group_id", "stakeholder_members.user_id", "status_updates.id", "status_updates.incident_id", "external_contacts.id", "external_contacts.party_id",
	"external_subscriptions.id", "external_subscriptions.incident_id", "external_subscriptions.contact_id",
	"external_links.subscription_id", "status_update_templates.id", "incident_public_pages.incident_id", "external_mail.id", "external_mail.subscription_id", "external_mail.status_update_id",
	"external_mail.code_id", "status_page_codes.id", "status_page_codes.subscription_id", "org_status_page.id",
	// the Message-ID Ward makes for an email (an id at the sender's domain)
	"external_mail.message_id",
	"legal_holds.id", "legal_holds.incident_id", "retention_runs.id", "retention_tombstones.record_id",
	"retention_tombstones.run_id", "retention_tombstones.label",
	"evidence_items.id", "evidence_items.incident_id", "evidence_chunks.item_id", "evidence_custody.id", "evidence_custody.item_id",
	"incident_reviews.incident_id", "incident_action_items.id", "incident_action_items.incident_id",
	"incident_review_events.id", "incident_review_events.incident_id", "incident_review_events.event_id",
	"privileged_marks.object_id", "privileged_marks.incident_id",
	"user_identities.user_id", "user_recovery_codes.user_id", "user_totp.user_id", "user_webauthn.id",
	// the template version a notice run used (a foreign key of
	// notice_templates.id)
	"notice_runs.template_ref",
	"user_webauthn.user_id", "users.id", "api_tokens.user_id", "user_invites.id", "user_invites.user_id",
	// the identity provider's id of a person it provisioned (SCIM externalId)
	"users.scim_external_id", "webauthn_ceremonies.session_id", "incidents.number",
	"report_hhs_filings.tracking_number", "report_hhs_filings.prior_tracking_number", "user_webauthn.credential_id",
	"user_webauthn.aaguid", "user_identities.issuer", "user_identities.subject",
	"incident_playbooks.id", "incident_playbooks.incident_id", "incident_tasks.playbook_id",

	// enumerations and fixed vocabularies (including rule-engine output:
	// citations, obligation names, US State codes, time zone names)
	"action_links.action", "alerts.severity", "alerts.status", "api_tokens.role", "audit_log.action",
	"audit_pending.action", "audit_pending.object_type",
	"audit_log.object_type", "breach_cases.outcome", "breach_determinations.citation", "breach_determinations.outcome",
	"breach_individuals.state", "breach_notice_tallies.state", "breach_obligations.obligation", "breach_organisation.role", "breach_parties.kind",
	"breach_parties.notice_channel", "breach_parties.notice_unit", "contact_methods.kind", "heartbeats.state",
	"incident_events.from_status", "incident_events.kind", "incident_events.to_status",
	"privileged_marks.kind", "incident_review_events.kind", "incident_review_events.from_status", "incident_review_events.to_status",
	"incidents.category", "incidents.resolution", "incidents.severity", "incidents.status", "incident_open_counts.severity",
	"incident_open_counts.status", "integration_keys.kind",
	"notice_files.content_type", "notice_runs.kind", "notice_templates.kind", "notice_templates.status",
	"notices.channel", "notices.kind", "notices.status", "notice_counts.channel", "notice_counts.kind", "notice_counts.status",
	"officer_alerts.kind", "notifications.channel", "notifications.kind",
	"notifications.status", "pages.status", "pages.alarm", "report_hhs_filings.kind", "report_reminders.mark",
	"report_reminders.obligation", "schedules.time_zone", "services.group_by", "sessions.stage", "sla_events.event",
	"sla_policies.severity", "breach_organisation.time_zone", "breach_organisation.zone_applied", "user_webauthn.attestation_type", "user_webauthn.transports", "users.role", "user_invites.role",
	"webauthn_ceremonies.kind", "login_throttle.scope", "counters.name", "schema_migrations.name",
	"sessions.end_reason", "legal_holds.scope", "retention_tombstones.record_type",
	"evidence_items.status", "incident_action_items.status", "evidence_items.integrity", "evidence_custody.action", "external_subscriptions.status", "external_links.purpose",
	"external_mail.kind", "external_mail.status", "status_updates.audience", "stakeholder_groups.audience", "external_subscriptions.audience",
	"status_update_templates.audience",
	// a media type Ward checked (type/subtype, no parameters)
	"evidence_items.content_type",
	// a playbook's key (a fixed vocabulary of Ward's and its editors'),
	// a task's owner role and lifecycle phase (enumerations)
	"playbook_versions.playbook", "incident_playbooks.playbook", "incident_tasks.owner_role", "incident_tasks.phase",

	// hashes, digests, keyed tokens, public keys, and the keyset (encrypted
	// by the master key, which is not in the database)
	"action_links.token_hash", "calendar_feeds.token_hash", "api_tokens.hash", "audit_head.hash", "audit_log.digest", "audit_log.hash", "audit_pending.digest",
	"audit_log.prev_hash", "breach_individual_imports.file_sha256", "breach_individuals.dedupe_key",
	"contact_methods.verify_hash", "incident_title_tokens.token", "integration_keys.key_hash", "keysets.keyset",
	"notice_files.sha256", "report_signing_keys.public_key", "alerts.dedup_hash", "alert_groups.group_hash", "sessions.token_hash", "setup_tokens.hash", "user_invites.hash",
	"user_recovery_codes.hash", "user_webauthn.public_key", "users.password_hash", "audit_checkpoints.hash",
	"audit_checkpoints.key_id", "audit_checkpoints.signature", "evidence_items.sha256", "external_links.token_hash",
	"incident_public_pages.token_hash", "slack_requests.signature_hash",
	"status_page_codes.link_hash", "status_page_codes.code_hash", "status_page_sessions.token_hash", "status_page_sessions.link_hash",

	// values Ward computes (JSON of rule results, copies of enumerations)
	"breach_obligations.body", "incidents.not_applicable", "incident_events.changes",
	"retention_policy.body", "retention_runs.counts",
	"breach_individual_imports.problems",

	// staff as the audit trail names them (usernames, actor strings)
	"audit_log.actor", "break_glass_grants.actor", "breach_cases.opened_by", "breach_determinations.signed_by",
	"breach_individual_imports.imported_by", "breach_obligations.met_by", "breach_organisation.updated_by",
	"breach_state_tables.created_by", "incident_events.actor", "incident_members.added_by",
	"incident_stakeholders.added_by", "incidents.created_by",
	"integration_keys.created_by", "maintenance_windows.created_by", "notice_runs.generated_by",
	"notice_settings.updated_by", "notice_substitutes.updated_by", "notice_templates.approved_by",
	"notice_templates.created_by", "notices.sent_by", "officer_alerts.acknowledged_by", "audit_break_reviews.reviewed_by", "officer_alerts.actor",
	"pages.acknowledged_by", "pages.resolved_by", "report_case_details.updated_by", "report_hhs_filings.filed_by",
	"report_org_profile.updated_by", "schedule_overrides.created_by", "status_updates.posted_by", "external_contacts.created_by",
	"legal_holds.placed_by", "legal_holds.released_by", "retention_policy.updated_by", "retention_runs.actor",
	"evidence_items.uploaded_by", "evidence_items.held_by", "incident_reviews.completed_by", "incident_reviews.waived_by",
	"playbook_versions.created_by", "incident_playbooks.applied_by",
	"incident_action_items.owner", "incident_action_items.done_by", "incident_review_events.created_by", "evidence_custody.actor", "external_subscriptions.subscribed_by",
	"status_update_templates.created_by", "user_invites.created_by", "incident_public_pages.enabled_by", "org_status_page.enabled_by",
	"privileged_marks.held_by", "privileged_marks.marked_by",
	"login_throttle.subject", "sessions.ip", "sessions.user_agent", "audit_log.source_ip",
	"audit_pending.actor", "audit_pending.source_ip",
	// an incident's commander and a task's owner: the username of an
	// active Ward user, checked on every write (422 otherwise), since Ward
	// checks access with the commander's username; free text an older
	// Ward stored there is moved into a sealed timeline note at start
	// (incident.Service.MoveUnknownNames; issue #15)
	"incidents.commander", "incident_tasks.owner",

	// a workflow rule's webhook outbox: ids, a status and a failure class
	// Ward derives ("HTTP 503"); the receiver's address is sealed
	// (keys.RuleWebhookDeliveryURL)
	"rule_webhook_deliveries.id", "rule_webhook_deliveries.rule_id", "rule_webhook_deliveries.incident_id",
	"rule_webhook_deliveries.status", "rule_webhook_deliveries.last_error",
	// the time a timed rule counts from (detected, created, acknowledged)
	"rules.after_from",
	// alert rules (issue #16): configuration administrators write, like
	// workflow rules; an alert's tags are those its rules gave it, never
	// what the tool sent (which the rules match in memory only)
	"alert_rules.name", "alert_rules.description", "alert_rules.expression", "alert_rules.actions", "alerts.tags",

	// configuration about the organisation, its staff and its tools
	"api_tokens.name", "breach_parties.agreement", "breach_parties.contact_address", "breach_parties.contact_email",
	"breach_parties.contact_name", "breach_parties.name", "breach_parties.notice_checklist",
	"breach_parties.notice_contents", "breach_state_tables.body", "breach_state_tables.reason",
	"contact_methods.hint", "contact_methods.label", "escalation_policies.description", "escalation_policies.name",
	"escalation_policies.steps", "incidents.customers", "breach_individuals.customer", "breach_notice_tallies.customer", "integration_keys.hint",
	"integration_keys.mapping", "integration_keys.name", "notice_substitutes.posting_url",
	"notice_substitutes.toll_free_number", "report_org_profile.body", "rules.actions", "rules.description",
	"rules.expression", "rules.name", "schedules.description", "schedules.name", "schedules.rotations",
	"services.description", "services.name", "stakeholder_groups.description", "stakeholder_groups.name",
	"stakeholder_groups.rule", "external_contacts.rule", "user_webauthn.name", "users.display_name", "users.email", "users.username",
	// a person's sign-in name at the identity provider (SCIM userName) and
	// the address an invitation was meant for, stored as users.email is
	"users.scim_user_name", "user_invites.email",
	"webauthn_ceremonies.data", "notice_templates.name", "status_update_templates.name",
	// playbooks: the organisation's response procedures (tasks, evidence
	// prompts, questions), which administrators and officers write; the
	// applied copy is the same text, never an answer (answers are sealed)
	"playbook_versions.body", "incident_playbooks.body",

	// where Ward runs and publishes: a node's host name, a checkpoint
	// destination (a file path, a webhook URL without its query)
	"audit_checkpoints.node", "audit_checkpoint_deliveries.destination",

	// the classification question Ward asks of an incident a PHI service's
	// alert opened: the incident, who answered, and Ward's own line saying
	// why it asked (the service's name)
	"incident_triage.incident_id", "incident_triage.answered_by", "incident_triage.reason",

	// Ward's own sentence saying why a page raised an alarm: the escalation
	// policy's name, a step, a count
	"pages.alarm_reason",
}

// TestEveryTextColumnIsClassified walks every TEXT column of both
// databases' schemas: each must be sealed (keys.Columns) or on the
// commented allow-list of columns that hold no free text. A new TEXT column
// fails it until someone decides which it is.
func TestEveryTextColumnIsClassified(t *testing.T) {
	sealed := map[string]bool{}
	for _, c := range keys.Columns() {
		sealed[c.String()] = true
	}
	for _, c := range notFreeText {
		if sealed[c] {
			t.Errorf("%s is listed twice", c)
		}
	}
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		q := `SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND upper(p.type) = 'TEXT'`
		if d.Dialect == db.Postgres {
			q = `SELECT table_name || '.' || column_name FROM information_schema.columns
				WHERE table_schema = current_schema() AND data_type = 'text'`
		}
		rows, err := d.R.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := map[string]bool{}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			seen[c] = true
			if !sealed[c] && !slices.Contains(notFreeText, c) {
				t.Errorf("%s is a TEXT column that is neither sealed (keys.Columns) nor on an allow-list of this test", c)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		for c := range sealed {
			if !seen[c] {
				t.Errorf("keys.Columns names %s, which is not a TEXT column of the schema", c)
			}
		}
		for _, c := range notFreeText {
			if !seen[c] {
				t.Errorf("%s is on an allow-list but not in the schema", c)
			}
		}
	})
}

package keys

// Column is a database column that holds sealed values: its table, its
// name, and the column of the row id that each value's associated data
// binds it to. A table whose primary key has two columns names its rows
// by an SQL expression of them, the same text on both databases
// (DeterminationRowID, ObligationRowID).
type Column struct {
	Table string
	Name  string
	RowID string
}

func (c Column) String() string { return c.Table + "." + c.Name }

// TextSealer seals and opens values bound to a table, column and row
// (*Keyring is one).
type TextSealer interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
}

// SealText seals the text v for row rowID of c with k, bound to c's table,
// its name and the row; an empty value stays empty. It is how a service
// writes a free-text field, which may hold PHI (45 CFR 164.312(a)(2)(iv)).
func (c Column) SealText(k TextSealer, v, rowID string) (string, error) {
	if v == "" {
		return "", nil
	}
	return k.Seal([]byte(v), c.Table, c.Name, rowID)
}

// OpenText opens what SealText sealed for row rowID of c; an empty value
// stays empty.
func (c Column) OpenText(k TextSealer, v, rowID string) (string, error) {
	if v == "" {
		return "", nil
	}
	b, err := k.Open(v, c.Table, c.Name, rowID)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// The sealed columns. Every value Ward encrypts at rest lives in one of
// these (45 CFR 164.312(a)(2)(iv)); Seal refuses any other place, so a new
// sealed column must be added here, and Rotate then re-encrypts it too.
var (
	// IncidentDescription may describe the PHI involved in an incident.
	IncidentDescription = Column{Table: "incidents", Name: "description", RowID: "id"}
	// IncidentTitle is an incident's title, which people type and alert
	// summaries become, and so may name a patient. It is searched through
	// a blind index (incident_title_tokens), never in clear.
	IncidentTitle = Column{Table: "incidents", Name: "title", RowID: "id"}
	// IncidentTaskTitle is a task's title, typed by people.
	IncidentTaskTitle = Column{Table: "incident_tasks", Name: "title", RowID: "id"}
	// IncidentPlaybookAnswers is the JSON of the answers to a playbook's
	// questions on an incident: a device's last known location, a police
	// report number, typed by people.
	IncidentPlaybookAnswers = Column{Table: "incident_playbooks", Name: "answers", RowID: "id"}
	// AlertSummary is the one line a monitoring tool sent, which may
	// quote PHI; it becomes the title of the incident it opens.
	AlertSummary = Column{Table: "alerts", Name: "summary", RowID: "id"}
	// BreakGlassReason is why someone took emergency access to an
	// incident, typed by them.
	BreakGlassReason = Column{Table: "break_glass_grants", Name: "reason", RowID: "id"}
	// OfficerAlertReason is the same reason, on the Security Officer's
	// alert.
	OfficerAlertReason = Column{Table: "officer_alerts", Name: "reason", RowID: "id"}
	// SearchKey is the random key of a blind index (one row per purpose,
	// SearchTitles), which would let anyone holding it test guesses
	// against the index.
	SearchKey = Column{Table: "search_keys", Name: "key", RowID: "id"}
	// IncidentEventNote holds timeline notes and transition notes, which
	// may hold PHI.
	IncidentEventNote = Column{Table: "incident_events", Name: "note", RowID: "id"}
	// UserTOTPSecret is a person's TOTP seed (45 CFR 164.312(d)).
	UserTOTPSecret = Column{Table: "user_totp", Name: "secret", RowID: "user_id"}
	// RecoveryCodesShown holds the recovery codes issued with a person's
	// first security key until they are shown, once (at most 5 minutes).
	RecoveryCodesShown = Column{Table: "recovery_codes_shown", Name: "codes", RowID: "session_id"}
	// IntegrationKeyShown holds a new integration key, created from a web
	// form, until the page the form redirects to shows it, once (at most 5
	// minutes).
	IntegrationKeyShown = Column{Table: "integration_keys_shown", Name: "key", RowID: "integration_id"}
	// AlertDetails is what a monitoring tool sent beyond the summary
	// (custom details, labels, annotations), which may quote PHI.
	AlertDetails = Column{Table: "alerts", Name: "details", RowID: "id"}
	// ContactAddress is where a person is paged (email, phone, chat or
	// webhook URL, which may embed a secret) and a webhook's signing secret.
	ContactAddress = Column{Table: "contact_methods", Name: "address", RowID: "id"}
	// RuleWebhookSecret is the secret that signs a workflow rule's
	// call_webhook requests, shown once when the rule is saved.
	RuleWebhookSecret = Column{Table: "rules", Name: "webhook_secret", RowID: "id"}
	// RuleWebhookURLs holds the addresses of a workflow rule's call_webhook
	// actions (a JSON list, in the actions' order), which may embed a token.
	RuleWebhookURLs = Column{Table: "rules", Name: "webhook_urls", RowID: "id"}
	// RuleWebhookDeliveryURL is the address one queued webhook call goes to.
	RuleWebhookDeliveryURL = Column{Table: "rule_webhook_deliveries", Name: "url", RowID: "id"}
	// CalendarFeedToken is the secret token of a calendar subscription
	// address, kept so that its owner can see the address again; the feed
	// is found by the token's hash (calendar_feeds.token_hash).
	CalendarFeedToken = Column{Table: "calendar_feeds", Name: "token", RowID: "id"}
	// StatusUpdateBody is a status update for stakeholders; written to hold
	// no PHI, sealed all the same.
	StatusUpdateBody = Column{Table: "status_updates", Name: "body", RowID: "id"}
	// StatusUpdateTemplateBody is a saved text for status updates to one
	// audience; written to hold no PHI, sealed all the same.
	StatusUpdateTemplateBody = Column{Table: "status_update_templates", Name: "body", RowID: "id"}
	// PublicPageToken is the secret token of an incident's public status
	// page address, kept so that officers can see the address again; the
	// page is found by the token's hash (incident_public_pages.token_hash).
	PublicPageToken = Column{Table: "incident_public_pages", Name: "token", RowID: "incident_id"}
	// ExternalContactName, ExternalContactOrganisation,
	// ExternalContactTitle and ExternalContactEmail describe a person
	// outside Ward kept informed of incidents (package stakeholder).
	ExternalContactName         = Column{Table: "external_contacts", Name: "name", RowID: "id"}
	ExternalContactOrganisation = Column{Table: "external_contacts", Name: "organisation", RowID: "id"}
	ExternalContactTitle        = Column{Table: "external_contacts", Name: "title", RowID: "id"}
	ExternalContactEmail        = Column{Table: "external_contacts", Name: "email", RowID: "id"}
	// ExternalMailError is why an email to an external subscriber was not
	// delivered: the mail server's reply, which may quote the address.
	ExternalMailError = Column{Table: "external_mail", Name: "error", RowID: "id"}
	// StatusPageCode is a one-time code that opens a subscriber's status
	// page, kept until its email is sent (then emptied); the code is
	// checked against status_page_codes.code_hash.
	StatusPageCode = Column{Table: "status_page_codes", Name: "code", RowID: "id"}
	// BreachIndividualRecord is an affected individual's PHI (name,
	// addresses, email, phone, date of birth, next of kin), as JSON.
	BreachIndividualRecord = Column{Table: "breach_individuals", Name: "record", RowID: "id"}
	// BreachIndividualsKey is the random key of a breach case's dedupe
	// hashes of its individuals.
	BreachIndividualsKey = Column{Table: "breach_cases", Name: "individuals_key", RowID: "id"}
	// NoticeFileContent is a generated notice file (letters, mailing
	// list, customer notice with its individuals), which holds PHI.
	NoticeFileContent = Column{Table: "notice_files", Name: "content", RowID: "id"}
	// ReportSigningKey is the Ed25519 seed that signs breach proof
	// bundles (package report).
	ReportSigningKey = Column{Table: "report_signing_keys", Name: "private_key", RowID: "id"}
	// ReportCaseDetails is a breach case's HHS report details (JSON),
	// whose free text a person types and so may hold PHI by mistake.
	ReportCaseDetails = Column{Table: "report_case_details", Name: "body", RowID: "case_id"}
	// LegalHoldReason is why a legal hold was placed, typed by an officer
	// (a matter's name, counsel's request), which may name a patient.
	LegalHoldReason = Column{Table: "legal_holds", Name: "reason", RowID: "id"}
	// LegalHoldReleaseReason is why a legal hold was released.
	LegalHoldReleaseReason = Column{Table: "legal_holds", Name: "release_reason", RowID: "id"}
	// NotificationLinks are the acknowledge and resolve tokens and the SMS
	// reply code of a page message, kept so that a re-send carries the same
	// ones: each is a capability to act on the page.
	NotificationLinks = Column{Table: "notifications", Name: "links", RowID: "id"}

	// What a monitoring tool sends beside the summary: identifiers and
	// labels it chose, which may embed a host, a patient's name or a record
	// number. The dedup key is found by its keyed hash (alerts.dedup_hash,
	// LookupHash), never by its text.
	AlertDedupKey  = Column{Table: "alerts", Name: "dedup_key", RowID: "id"}
	AlertSource    = Column{Table: "alerts", Name: "source", RowID: "id"}
	AlertComponent = Column{Table: "alerts", Name: "component", RowID: "id"}
	AlertGroup     = Column{Table: "alerts", Name: "grp", RowID: "id"}
	AlertClass     = Column{Table: "alerts", Name: "class", RowID: "id"}
	// NotificationLastError is why a message was not delivered, in the
	// provider's words, which may quote the address or message.
	NotificationLastError = Column{Table: "notifications", Name: "last_error", RowID: "id"}
	// NotificationStatusLine is a status update's or reminder's status
	// line, Ward's own words; sealed all the same.
	NotificationStatusLine = Column{Table: "notifications", Name: "status_line", RowID: "id"}
	// MaintenanceReason is why a maintenance window was set, typed by a
	// person.
	MaintenanceReason = Column{Table: "maintenance_windows", Name: "reason", RowID: "id"}
	// ServiceChangeSummary and ServiceChangeSource are what a deploy or
	// configuration tool said changed, and where: a tool may write anything.
	ServiceChangeSummary = Column{Table: "service_changes", Name: "summary", RowID: "id"}
	ServiceChangeSource  = Column{Table: "service_changes", Name: "source", RowID: "id"}
	// BreachFacts are a breach case's facts (JSON): beside dates and
	// counts, the law-enforcement official and agency, customers' names
	// and the case tags, typed by people.
	BreachFacts = Column{Table: "breach_cases", Name: "facts", RowID: "id"}
	// BreachDeterminationBody is a signed determination (JSON): the
	// risk assessment's findings and rationale, typed by the officer.
	BreachDeterminationBody = Column{Table: "breach_determinations", Name: "body", RowID: DeterminationRowID}
	// BreachDeterminationWhy is the rules' explanation of a determination's
	// outcome, which quotes the officer's rationale.
	BreachDeterminationWhy = Column{Table: "breach_determinations", Name: "why", RowID: DeterminationRowID}
	// BreachDeterminationReason is why a determination's version changes.
	BreachDeterminationReason = Column{Table: "breach_determinations", Name: "reason", RowID: DeterminationRowID}
	// BreachDeterminationDraft is the determination wizard's answers so
	// far (JSON), typed by the officer, before they sign.
	BreachDeterminationDraft = Column{Table: "breach_determination_drafts", Name: "body", RowID: DraftRowID}
	// BreachObligationMetReason is the evidence that a notice was made.
	BreachObligationMetReason = Column{Table: "breach_obligations", Name: "met_reason", RowID: ObligationRowID}
	// NoticeTemplateSubject and NoticeTemplateBody are a notice
	// template's text, which people write and may fill with a case's
	// details.
	NoticeTemplateSubject = Column{Table: "notice_templates", Name: "subject", RowID: "id"}
	NoticeTemplateBody    = Column{Table: "notice_templates", Name: "body", RowID: "id"}
	// NoticeSettings are what a case's notices say (JSON: what happened,
	// the PHI involved, ...).
	NoticeSettings = Column{Table: "notice_settings", Name: "body", RowID: "case_id"}
	// NoticeRunSettings are the copy of the settings a notice run used.
	NoticeRunSettings = Column{Table: "notice_runs", Name: "settings", RowID: "id"}
	// ReportHHSPacket is the HHS breach report filed (JSON), with the
	// free text of the case's report details.
	ReportHHSPacket = Column{Table: "report_hhs_filings", Name: "packet", RowID: "id"}
	// NoticeRecipient, NoticeReceipt, NoticeError and NoticeReturnReason
	// are a notice's addressee, the carrier's or mail server's receipt, a
	// delivery error and why it came back: each may quote an individual.
	NoticeRecipient    = Column{Table: "notices", Name: "recipient", RowID: "id"}
	NoticeReceipt      = Column{Table: "notices", Name: "receipt", RowID: "id"}
	NoticeError        = Column{Table: "notices", Name: "error", RowID: "id"}
	NoticeReturnReason = Column{Table: "notices", Name: "return_reason", RowID: "id"}
	// NoticeFileName is a generated notice file's name, which names its
	// addressee (a State, a customer).
	NoticeFileName = Column{Table: "notice_files", Name: "name", RowID: "id"}
	// What people say about an evidence item (package evidence): what it
	// is, where it came from, who collected it, the asset it relates to,
	// its file's name and who holds it now. Each may name a patient.
	EvidenceDescription  = Column{Table: "evidence_items", Name: "description", RowID: "id"}
	EvidenceSource       = Column{Table: "evidence_items", Name: "source", RowID: "id"}
	EvidenceCollectedBy  = Column{Table: "evidence_items", Name: "collected_by", RowID: "id"}
	EvidenceRelatedAsset = Column{Table: "evidence_items", Name: "related_asset", RowID: "id"}
	EvidenceFileName     = Column{Table: "evidence_items", Name: "file_name", RowID: "id"}
	EvidenceCustodian    = Column{Table: "evidence_items", Name: "custodian", RowID: "id"}
	// EvidenceDataKey is the streaming AEAD key an evidence item's content
	// is encrypted with (NewStreamKey).
	EvidenceDataKey = Column{Table: "evidence_items", Name: "data_key", RowID: "id"}
	// EvidenceHoldReason is why an evidence item is on legal hold, typed
	// by an officer; empty while it is not.
	EvidenceHoldReason = Column{Table: "evidence_items", Name: "hold_reason", RowID: "id"}
	// EvidenceCustodyReason and EvidenceCustodyCustodian are why a chain of
	// custody entry was made and who held the item after it.
	EvidenceCustodyReason    = Column{Table: "evidence_custody", Name: "reason", RowID: "id"}
	EvidenceCustodyCustodian = Column{Table: "evidence_custody", Name: "custodian", RowID: "id"}
	// The post-incident review's sections (docs/REVIEW.md), typed by
	// people about what happened, and why an officer waived it.
	ReviewSummary             = Column{Table: "incident_reviews", Name: "summary", RowID: "incident_id"}
	ReviewRootCause           = Column{Table: "incident_reviews", Name: "root_cause", RowID: "incident_id"}
	ReviewContributingFactors = Column{Table: "incident_reviews", Name: "contributing_factors", RowID: "incident_id"}
	ReviewWentWell            = Column{Table: "incident_reviews", Name: "went_well", RowID: "incident_id"}
	ReviewLessons             = Column{Table: "incident_reviews", Name: "lessons", RowID: "incident_id"}
	ReviewUpdatesMade         = Column{Table: "incident_reviews", Name: "updates_made", RowID: "incident_id"}
	ReviewWaiveReason         = Column{Table: "incident_reviews", Name: "waive_reason", RowID: "incident_id"}
	// ActionItemTitle and ActionItemTicketURL are a review's action item
	// and the link to its ticket elsewhere, whose path may name a patient.
	ActionItemTitle     = Column{Table: "incident_action_items", Name: "title", RowID: "id"}
	ActionItemTicketURL = Column{Table: "incident_action_items", Name: "ticket_url", RowID: "id"}
	// ReviewEventText and ReviewEventAnnotation are a review's key event:
	// the copy of the timeline note it was imported from, and what a
	// responder wrote about it.
	ReviewEventText       = Column{Table: "incident_review_events", Name: "text", RowID: "id"}
	ReviewEventAnnotation = Column{Table: "incident_review_events", Name: "annotation", RowID: "id"}
)

// DeterminationRowID, ObligationRowID and DraftRowID name a
// determination's version, an obligation and an officer's draft by their
// primary keys: "case id/version", "case id/obligation" and "case id/user
// id" (package breach makes the same text in Go).
const (
	DeterminationRowID = "(case_id || '/' || version)"
	ObligationRowID    = "(case_id || '/' || obligation)"
	DraftRowID         = "(case_id || '/' || user_id)"
)

// Columns returns every sealed column.
func Columns() []Column {
	return []Column{IncidentDescription, IncidentEventNote, UserTOTPSecret, RecoveryCodesShown, IntegrationKeyShown, AlertDetails, ContactAddress, RuleWebhookSecret, RuleWebhookURLs, RuleWebhookDeliveryURL, CalendarFeedToken, StatusUpdateBody,
		StatusUpdateTemplateBody, PublicPageToken,
		BreachIndividualRecord, BreachIndividualsKey, NoticeFileContent,
		ReportSigningKey, ReportCaseDetails, IncidentTitle, IncidentTaskTitle, IncidentPlaybookAnswers, AlertSummary, BreakGlassReason,
		OfficerAlertReason, SearchKey, LegalHoldReason, LegalHoldReleaseReason, NotificationLinks,
		AlertDedupKey, AlertSource, AlertComponent, AlertGroup, AlertClass,
		NotificationLastError, NotificationStatusLine, MaintenanceReason, ServiceChangeSummary, ServiceChangeSource,
		BreachFacts, BreachDeterminationBody, BreachDeterminationWhy, BreachDeterminationReason, BreachDeterminationDraft, BreachObligationMetReason, NoticeTemplateSubject,
		NoticeTemplateBody, NoticeSettings, NoticeRunSettings, ReportHHSPacket, NoticeRecipient, NoticeReceipt, NoticeError,
		NoticeReturnReason, NoticeFileName, EvidenceDescription, EvidenceSource, EvidenceCollectedBy, EvidenceRelatedAsset,
		EvidenceFileName, EvidenceCustodian, EvidenceDataKey, EvidenceHoldReason, EvidenceCustodyReason, EvidenceCustodyCustodian,
		ExternalContactName, ExternalContactOrganisation, ExternalContactTitle, ExternalContactEmail,
		ExternalMailError, StatusPageCode, ReviewSummary, ReviewRootCause, ReviewContributingFactors, ReviewWentWell, ReviewLessons,
		ReviewUpdatesMade, ReviewWaiveReason, ActionItemTitle, ActionItemTicketURL, ReviewEventText, ReviewEventAnnotation}
}

// sealedNames is every sealed column's table and name, made once: every
// Seal asks, and building Columns' slice each time cost a profiled alert
// batch about a sixth of its writer's time.
var sealedNames = func() map[[2]string]bool {
	m := make(map[[2]string]bool)
	for _, c := range Columns() {
		m[[2]string{c.Table, c.Name}] = true
	}
	return m
}()

// registered reports whether table.column is one of Columns.
func registered(table, column string) bool {
	return sealedNames[[2]string{table, column}]
}

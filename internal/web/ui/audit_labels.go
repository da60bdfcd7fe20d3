package ui

import (
	"sort"
	"strings"
)

// actionLabels say in plain words what each audit action records, for the
// audit page: a person reads "Opened incident", never "incident.create".
var actionLabels = map[string]string{
	"alert.ingest":                              "Received alerts",
	"alert.phi_read":                            "Viewed the details of an alert",
	"alert_rule.create":                         "Created an alert rule",
	"alert_rule.delete":                         "Deleted an alert rule",
	"alert_rule.dry_run":                        "Tried an alert rule on recent alerts",
	"alert_rule.update":                         "Edited an alert rule",
	"audit.export":                              "Exported the audit trail",
	"config.export":                             "Exported the configuration as code",
	"audit.break_review":                        "Reviewed a break in the audit trail",
	"audit.read":                                "Read the audit trail",
	"audit.segment_start":                       "Found the audit trail altered and started a new part of it",
	"breach.state_table":                        "Changed the State notice rules",
	"breach_case.determination":                 "Signed a breach determination",
	"breach_case.determination_draft":           "Saved a draft of a breach determination",
	"breach_case.facts":                         "Recorded breach facts",
	"breach_case.hold_override":                 "Acted despite a law-enforcement hold",
	"breach_case.individuals_import":            "Imported affected individuals",
	"breach_case.individuals_import_resume":     "Resumed an import of affected individuals",
	"breach_case.individuals_phi_read":          "Viewed affected individuals' details",
	"breach_case.obligation_met":                "Marked a notice obligation as met",
	"breach_case.obligation_reopened":           "Reopened a notice obligation",
	"breach_case.open":                          "Opened a breach case",
	"breach_case.phi_read":                      "Viewed a breach case's facts, determinations or evidence",
	"breach_case.signature_requested":           "Asked the Privacy Officers to sign a breach determination",
	"breach_organisation.role":                  "Set the organisation's HIPAA role",
	"breach_organisation.time_zone":             "Set the organisation's time zone",
	"breach_party.archive":                      "Archived a party to breach cases",
	"breach_party.create":                       "Added a party to breach cases",
	"breach_party.update":                       "Edited a party to breach cases",
	"contact.create":                            "Added a contact method",
	"external_contact.create":                   "Added an external stakeholder contact",
	"external_contact.delete":                   "Removed an external stakeholder contact",
	"external_contact.list":                     "Viewed the external stakeholder contacts",
	"external_contact.read":                     "Viewed an external stakeholder contact",
	"external_contact.update":                   "Edited an external stakeholder contact",
	"external_subscription.undeliverable":       "Stopped emailing a subscriber whose email bounced",
	"contact.delete":                            "Removed a contact method",
	"contact.update":                            "Changed a contact method's status notifications",
	"contact.verify":                            "Verified a contact method",
	"escalation_policy.create":                  "Created an escalation policy",
	"escalation_policy.delete":                  "Deleted an escalation policy",
	"escalation_policy.update":                  "Edited an escalation policy",
	"evidence.add":                              "Added evidence",
	"evidence.custody":                          "Recorded an evidence custody event",
	"evidence.download":                         "Downloaded evidence",
	"evidence.export":                           "Exported evidence for an examiner",
	"evidence.integrity_failed":                 "Found evidence altered or damaged",
	"evidence.legal_hold":                       "Placed a legal hold on evidence",
	"evidence.legal_hold_release":               "Released a legal hold on evidence",
	"evidence.phi_read":                         "Viewed evidence details",
	"evidence.verify":                           "Verified evidence integrity",
	"heartbeat.missed":                          "Noticed a missed heartbeat",
	"incident.break_glass":                      "Used emergency access to incident",
	"incident.break_glass.revoke":               "Ended emergency access to incident",
	"incident.breach":                           "Recorded breach work on incident",
	"incident.create":                           "Opened incident",
	"incident.delete":                           "Deleted incident",
	"incident.member.add":                       "Added a member to incident",
	"incident.member.remove":                    "Removed a member from incident",
	"incident.names_moved":                      "Moved a commander or task owner that named no Ward user into a sealed note on incident",
	"incident.note":                             "Added a note to incident",
	"incident.paging":                           "Recorded paging on incident",
	"incident.phi_read":                         "Viewed protected health information in incident",
	"incident.playbook":                         "Applied a playbook or recorded its answers on incident",
	"incident.task.remind":                      "Reminded of an overdue task of incident",
	"incident.privilege.mark":                   "Marked a record privileged & confidential in incident",
	"incident.privilege.unmark":                 "Removed the privileged marking of a record in incident",
	"privileged.read":                           "Viewed privileged & confidential records of incident",
	"incident.restrict":                         "Restricted incident",
	"incident.rule":                             "Applied a workflow rule to incident",
	"incident.sla":                              "Recorded a service-level event on incident",
	"incident.status_update":                    "Posted a status update on incident",
	"incident.task.create":                      "Added a task to incident",
	"incident.task.update":                      "Updated a task of incident",
	"incident.transition":                       "Moved incident to another phase",
	"incident.unrestrict":                       "Lifted the restriction of incident",
	"incident.update":                           "Edited incident",
	"integration.create":                        "Created an integration key",
	"integration.revoke":                        "Revoked an integration key",
	"playbook.edit":                             "Edited a playbook (a new version)",
	"job.run":                                   "Ran a scheduled job",
	"keys.keyset_created":                       "Created encryption keys",
	"keys.master_key_changed":                   "Changed the master key",
	"keys.rotation_finished":                    "Finished rotating encryption keys",
	"keys.rotation_started":                     "Started rotating encryption keys",
	"maintenance.create":                        "Started a maintenance window",
	"maintenance.end":                           "Ended a maintenance window",
	"notice.generate":                           "Generated notices",
	"notice.resend":                             "Resent notices",
	"notice.returns":                            "Recorded returned notices",
	"notice.send":                               "Sent notices",
	"notice.sent":                               "Recorded notices as sent",
	"notice.substitute":                         "Started a substitute notice",
	"notice_file.phi_read":                      "Downloaded a notice file",
	"notice_file.names_read":                    "Viewed the names of notice files",
	"notice.phi_read":                           "Viewed notices' recipients and delivery details",
	"notice_settings.phi_read":                  "Viewed what a case's notices say",
	"notice_template.phi_read":                  "Viewed notice templates",
	"report.hhs_filings_phi_read":               "Viewed the HHS filings of a breach case",
	"notice_settings.update":                    "Changed the notice settings",
	"notice_template.approve":                   "Approved a notice template",
	"notice_template.create":                    "Created a notice template",
	"notice_template.seed":                      "Added the standard notice templates",
	"notice_template.update":                    "Edited a notice template",
	"notification_rule.create":                  "Added a notification rule",
	"notification_rule.delete":                  "Removed a notification rule",
	"officer_alert.acknowledge":                 "Acknowledged an officer alert",
	"officer_alert.raise":                       "Raised an officer alert",
	"page.acknowledge":                          "Acknowledged a page",
	"page.escalate":                             "Escalated a page to the next step",
	"page.repage":                               "Paged again from step 1",
	"page.resolve":                              "Resolved a page",
	"report.details":                            "Filled in HHS report details",
	"report.hhs_filing":                         "Recorded a filing with HHS",
	"report.org_profile":                        "Edited the organisation's profile",
	"report.proof_bundle":                       "Downloaded a proof bundle",
	"report.signing_key":                        "Created the report signing key",
	"rule.create":                               "Created a workflow rule",
	"rule.update":                               "Edited a workflow rule",
	"schedule.create":                           "Created an on-call schedule",
	"schedule.delete":                           "Deleted an on-call schedule",
	"schedule.override_create":                  "Added a schedule override",
	"schedule.override_delete":                  "Removed a schedule override",
	"schedule.update":                           "Edited an on-call schedule",
	"service.create":                            "Created a service",
	"service.delete":                            "Deleted a service",
	"service.update":                            "Edited a service",
	"session.disabled":                          "Session ended: account disabled",
	"session.expired":                           "Session ended: time limit reached",
	"session.idle":                              "Session ended after inactivity",
	"session.logout":                            "Signed out",
	"session.mfa_reset":                         "Session ended: two-step sign-in reset",
	"session.password_changed":                  "Session ended: password changed",
	"session.revoked":                           "Session ended by an administrator",
	"session.signed_in_elsewhere":               "Session ended: signed in elsewhere",
	"setup.completed":                           "Completed the first-run setup",
	"setup.token_created":                       "Made the first-run setup link",
	"sla_policy.update":                         "Edited a service-level policy",
	"stakeholder_group.create":                  "Created a stakeholder group",
	"stakeholder_group.update":                  "Edited a stakeholder group",
	"status_update.post":                        "Posted a status update",
	"status_update_delivery.list":               "Viewed who the status updates went to",
	"status_update_template.create":             "Added a status update template",
	"status_update_template.update":             "Edited a status update template",
	"status_update_template.delete":             "Removed a status update template",
	"status_page.view":                          "An external subscriber opened their status page",
	"status_page.refused":                       "Refused an expired or revoked status page link",
	"status_page.code_sent":                     "Queued a code to open a status page",
	"status_page.code_mailed":                   "Emailed a code to open a status page",
	"status_page.code_mail_failed":              "Could not email a code to open a status page",
	"status_page.code_refused":                  "Refused a status page code: none that works, or too many sent",
	"status_page.code_wrong":                    "Refused a wrong status page code",
	"status_page.code_locked":                   "Locked a status page code after 5 wrong tries",
	"status_page.code_accepted":                 "Opened a status page with its code",
	"status_page.codes_purged":                  "Deleted expired status page codes",
	"status_page.sessions_purged":               "Deleted expired status page sessions",
	"public_status_page.enable":                 "Turned the public status page on",
	"public_status_page.disable":                "Turned the public status page off",
	"org_status_page.enable":                    "Turned the organisation's public status page on",
	"org_status_page.disable":                   "Turned the organisation's public status page off",
	"token.create":                              "Created an API token",
	"token.revoke":                              "Revoked an API token",
	"user.create":                               "Created a user account",
	"user.invite_created":                       "Made a sign-up link",
	"user.invite_accepted":                      "Signed up with a sign-up link",
	"user.updated":                              "Changed a user's name, email or identity provider names",
	"user.disabled":                             "Disabled a user account",
	"user.enabled":                              "Enabled a user account",
	"user.identity_linked":                      "Linked a single sign-on identity",
	"user.locked":                               "Locked an account after failed sign-ins",
	"user.login":                                "Signed in",
	"user.login_failed":                         "Failed to sign in",
	"user.login_mfa_pending":                    "Entered a password; second step pending",
	"user.logout_everywhere":                    "Signed out everywhere",
	"user.mfa_enabled":                          "Turned on two-step sign-in",
	"user.mfa_enrolment_started":                "Started setting up two-step sign-in",
	"user.mfa_failed":                           "Failed the second sign-in step",
	"user.mfa_reset":                            "Reset two-step sign-in",
	"user.password_change_failed":               "Failed to change a password",
	"user.password_changed":                     "Changed a password",
	"user.reauth_failed":                        "Failed to confirm a password",
	"user.recovery_code_used":                   "Used a recovery code",
	"user.recovery_codes_regenerated":           "Made new recovery codes",
	"user.role_changed":                         "Changed a role",
	"user.webauthn_add":                         "Added a security key",
	"user.webauthn_remove":                      "Removed a security key",
	"breach_case.determination_draft_discarded": "Discarded a draft of a breach determination",
	"incident.action_item.create":               "Added an action item to incident",
	"incident.action_item.update":               "Updated an action item of incident",
	"incident.action_item.remind":               "Reminded the owner of an overdue action item of incident",
	"incident.review.key_events.annotate":       "Annotated a key event in the post-incident review of incident",
	"incident.review.key_events.import":         "Imported key events into the post-incident review of incident",
	"incident.review.key_events.remove":         "Took a key event out of the post-incident review of incident",
	"incident.review.complete":                  "Completed the post-incident review of incident",
	"incident.review.update":                    "Wrote the post-incident review of incident",
	"incident.review.waive":                     "Waived the post-incident review of incident",
}

// actionLabel is action in plain words; an action without a label (one
// added since) is spelled out from its parts, never shown as a code.
func actionLabel(action string) string {
	if l, ok := actionLabels[action]; ok {
		return l
	}
	words := strings.Join(strings.FieldsFunc(action, func(r rune) bool { return r == '.' || r == '_' }), " ")
	if words == "" {
		return "Other action"
	}
	return strings.ToUpper(words[:1]) + words[1:]
}

// actionChoice is one option of the audit page's action filter.
type actionChoice struct {
	Value, Label string
}

// actionChoices are the filter's options, by label.
func actionChoices() []actionChoice {
	out := make([]actionChoice, 0, len(actionLabels))
	for a, l := range actionLabels {
		out = append(out, actionChoice{a, l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

// objectNouns name each kind of object in plain words.
var objectNouns = map[string]string{
	"alert": "Alert", "api_token": "API token", "audit_break": "Audit trail break", "audit_segment": "Audit trail", "audit_trail": "Audit trail", "breach_organisation": "Organisation profile",
	"breach_party": "Party to breach cases", "breach_state_table": "State notice rules", "escalation_policy": "Escalation policy",
	"external_contact": "External stakeholder contact", "status_update_template": "Status update template", "incident": "Incident", "integration": "Integration key", "job": "Scheduled job", "keyset": "Encryption keys",
	"notice_template": "Notice template", "officer_alert": "Officer alert", "org": "Organisation profile",
	"report_signing_key": "Report signing key", "rule": "Workflow rule", "schedule": "On-call schedule", "service": "Service",
	"session": "Session", "setup_token": "First-run setup link", "sla_policy": "Service-level policy",
	"stakeholder_group": "Stakeholder group", "user": "User account", "user_invite": "Sign-up link",
}

// objectPages are where each kind of object is seen, by its id; "" for an
// object with no page of its own.
var objectPages = map[string]string{
	"alert": "/alerts/", "escalation_policy": "/escalation-policies/", "notice_template": "/notice-templates/",
	"rule": "/rules/", "schedule": "/schedules/", "service": "/services/", "stakeholder_group": "/stakeholders/",
}

// objectListPages are where objects without a page of their own are listed.
var objectListPages = map[string]string{
	"audit_break": "/audit/integrity", "audit_segment": "/audit/integrity", "audit_trail": "/audit", "breach_organisation": "/org-profile", "breach_party": "/breach/parties",
	"breach_state_table": "/breach/state-rules", "org": "/org-profile", "sla_policy": "/sla-policies",
}

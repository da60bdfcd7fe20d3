package ui

import (
	"crypto/subtle"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/sso"
	"github.com/wardhq/ward/internal/user"
)

// Access levels a route can require besides a permission.
const (
	// Public routes need no session: sign-in, first-run setup, assets.
	Public authz.Permission = ""
	// SignedIn routes need any full session.
	SignedIn authz.Permission = "signed_in"
)

// Route is one UI route and what it takes to use it.
type Route struct {
	Method  string
	Pattern string
	Perm    authz.Permission
	// Stages the session may be in; empty means only a full session.
	Stages []user.Stage
	// ChangesNothing marks a POST route that only computes an answer (a
	// preview, a dry run): the auditor role, which changes nothing, may use it.
	ChangesNothing bool
	// MaxBody is the largest body the route takes, in bytes: 0 means
	// MaxFormBytes, -1 no limit (a streamed upload).
	MaxBody int64
	handler http.HandlerFunc
}

// Routes is the UI's route table: every route names what it needs. The
// permission-matrix test walks it, so a route added without a rule fails.
func (u *UI) Routes() []Route {
	enrol := []user.Stage{user.StageEnrollMFA, user.StageFull}
	return append(u.noticeRoutes(), []Route{
		{Method: "GET", Pattern: "/setup", Perm: Public, handler: u.setupForm},
		{Method: "POST", Pattern: "/setup", Perm: Public, handler: u.setup},
		{Method: "GET", Pattern: "/invite", Perm: Public, handler: u.inviteForm},
		{Method: "POST", Pattern: "/invite", Perm: Public, handler: u.invite},
		{Method: "GET", Pattern: "/login", Perm: Public, handler: u.loginForm},
		{Method: "POST", Pattern: "/login", Perm: Public, handler: u.login},
		{Method: "GET", Pattern: "/login/oidc", Perm: Public, handler: u.ssoStart},
		{Method: "GET", Pattern: sso.CallbackPath, Perm: Public, handler: u.ssoCallback},
		{Method: "GET", Pattern: "/login/mfa", Perm: SignedIn, Stages: []user.Stage{user.StageMFA}, handler: u.mfaForm},
		{Method: "POST", Pattern: "/login/mfa", Perm: SignedIn, Stages: []user.Stage{user.StageMFA}, handler: u.mfa},
		{Method: "POST", Pattern: "/login/webauthn/begin", Perm: SignedIn, Stages: []user.Stage{user.StageMFA}, handler: u.keyLoginBegin},
		{Method: "POST", Pattern: "/login/webauthn", Perm: SignedIn, Stages: []user.Stage{user.StageMFA}, handler: u.keyLogin},
		{Method: "POST", Pattern: "/logout", Perm: SignedIn, Stages: []user.Stage{user.StageMFA, user.StageEnrollMFA, user.StageFull}, handler: u.logout},

		{Method: "GET", Pattern: "/{$}", Perm: authz.IncidentRead, handler: u.dashboard},
		{Method: "GET", Pattern: "/incidents", Perm: authz.IncidentRead, handler: u.incidentList},
		{Method: "GET", Pattern: "/incidents/register.csv", Perm: authz.IncidentRead, handler: u.incidentRegister},
		{Method: "GET", Pattern: "/incidents/register.pdf", Perm: authz.IncidentRead, handler: u.incidentRegisterPDF},
		{Method: "GET", Pattern: "/incidents/new", Perm: authz.IncidentWrite, handler: u.incidentNew},
		{Method: "POST", Pattern: "/incidents", Perm: authz.IncidentWrite, handler: u.incidentCreate},
		{Method: "GET", Pattern: "/incidents/{id}", Perm: authz.IncidentRead, handler: u.incidentShow},
		{Method: "GET", Pattern: "/incidents/{id}/edit", Perm: authz.IncidentWrite, handler: u.incidentEdit},
		{Method: "POST", Pattern: "/incidents/{id}/edit", Perm: authz.IncidentWrite, handler: u.incidentUpdate},
		{Method: "POST", Pattern: "/incidents/{id}/transitions", Perm: authz.IncidentWrite, handler: u.incidentTransition},
		{Method: "POST", Pattern: "/incidents/{id}/notes", Perm: authz.IncidentWrite, handler: u.incidentNote},
		{Method: "POST", Pattern: "/incidents/{id}/privileged", Perm: authz.PrivilegedMark, handler: u.incidentPrivileged},
		{Method: "POST", Pattern: "/incidents/{id}/privileged-notes", Perm: authz.PrivilegedMark, handler: u.incidentPrivilegedNote},
		{Method: "POST", Pattern: "/incidents/{id}/tasks", Perm: authz.IncidentWrite, handler: u.taskCreate},
		{Method: "POST", Pattern: "/incidents/{id}/tasks/{task}", Perm: authz.IncidentWrite, handler: u.taskUpdate},
		{Method: "POST", Pattern: "/incidents/{id}/review", Perm: authz.IncidentWrite, handler: u.reviewSave},
		{Method: "POST", Pattern: "/incidents/{id}/review/waive", Perm: authz.ReviewWaive, handler: u.reviewWaive},
		{Method: "GET", Pattern: "/incidents/{id}/investigation-report.md", Perm: authz.IncidentReadPHI, handler: u.investigationReport("md")},
		{Method: "GET", Pattern: "/incidents/{id}/investigation-report.pdf", Perm: authz.IncidentReadPHI, handler: u.investigationReport("pdf")},
		{Method: "POST", Pattern: "/incidents/{id}/review/key-events", Perm: authz.IncidentWrite, handler: u.keyEventsImport},
		{Method: "POST", Pattern: "/incidents/{id}/review/key-events/{key}", Perm: authz.IncidentWrite, handler: u.keyEventAnnotate},
		{Method: "POST", Pattern: "/incidents/{id}/review/key-events/{key}/remove", Perm: authz.IncidentWrite, handler: u.keyEventRemove},
		{Method: "POST", Pattern: "/incidents/{id}/action-items", Perm: authz.IncidentWrite, handler: u.actionCreate},
		{Method: "POST", Pattern: "/incidents/{id}/action-items/{action}", Perm: authz.IncidentWrite, handler: u.actionStatus},
		{Method: "GET", Pattern: "/action-items", Perm: authz.IncidentRead, handler: u.actionList},
		{Method: "POST", Pattern: "/incidents/{id}/playbooks", Perm: authz.IncidentWrite, handler: u.playbookApply},
		{Method: "POST", Pattern: "/incidents/{id}/playbooks/{playbook}/answers", Perm: authz.IncidentWrite, handler: u.playbookAnswer},
		{Method: "GET", Pattern: "/drills", Perm: authz.IncidentRead, handler: u.drills},
		{Method: "POST", Pattern: "/drills", Perm: authz.DrillRun, handler: u.drillStart},
		{Method: "GET", Pattern: "/tasks/mine", Perm: authz.IncidentRead, handler: u.myTasks},
		{Method: "GET", Pattern: "/playbooks", Perm: authz.IncidentRead, handler: u.playbookList},
		{Method: "GET", Pattern: "/playbooks/{playbook}", Perm: authz.IncidentRead, handler: u.playbookShow},
		{Method: "POST", Pattern: "/playbooks/{playbook}", Perm: authz.OnCallWrite, handler: u.playbookEdit},
		{Method: "POST", Pattern: "/incidents/{id}/members", Perm: authz.IncidentWrite, handler: u.memberAdd},
		{Method: "POST", Pattern: "/incidents/{id}/members/{user}/remove", Perm: authz.IncidentWrite, handler: u.memberRemove},
		{Method: "GET", Pattern: "/incidents/{id}/break-glass", Perm: authz.BreakGlass, handler: u.breakGlassForm},
		{Method: "POST", Pattern: "/incidents/{id}/break-glass", Perm: authz.BreakGlass, handler: u.breakGlass},
		{Method: "POST", Pattern: "/incidents/{id}/grants/{grant}/revoke", Perm: authz.RestrictedManage, handler: u.grantRevoke},
		{Method: "POST", Pattern: "/incidents/{id}/triage", Perm: authz.IncidentWrite, handler: u.triageAnswer},
		{Method: "POST", Pattern: "/incidents/{id}/page/acknowledge", Perm: authz.IncidentWrite, handler: u.pageAcknowledge},
		{Method: "POST", Pattern: "/incidents/{id}/page/escalate", Perm: authz.IncidentWrite, handler: u.pageEscalate},
		{Method: "POST", Pattern: "/incidents/{id}/page/repage", Perm: authz.IncidentWrite, handler: u.pageRepage},
		{Method: "POST", Pattern: "/incidents/{id}/page/resolve", Perm: authz.IncidentWrite, handler: u.pageResolve},
		{Method: "POST", Pattern: "/incidents/{id}/updates", Perm: authz.IncidentWrite, handler: u.statusUpdatePost},
		{Method: "POST", Pattern: "/incidents/{id}/stakeholders", Perm: authz.IncidentWrite, handler: u.stakeholderSubscribe},
		{Method: "POST", Pattern: "/incidents/{id}/external-subscribers", Perm: authz.IncidentWrite, handler: u.externalSubscribe},
		{Method: "POST", Pattern: "/incidents/{id}/public-status-page", Perm: authz.StakeholderWrite, handler: u.publicPageSet},
		{Method: "POST", Pattern: "/incidents/{id}/breach/open", Perm: authz.BreachWrite, handler: u.breachOpen},
		{Method: "GET", Pattern: "/incidents/{id}/breach", Perm: authz.IncidentRead, handler: u.breachShow},
		{Method: "POST", Pattern: "/incidents/{id}/breach/facts", Perm: authz.BreachWrite, handler: u.breachFacts},
		{Method: "POST", Pattern: "/incidents/{id}/breach/determinations", Perm: authz.BreachSign, handler: u.breachSign},
		{Method: "GET", Pattern: "/incidents/{id}/breach/determine", Perm: authz.BreachSign, handler: u.wizardShow},
		{Method: "POST", Pattern: "/incidents/{id}/breach/determine", Perm: authz.BreachSign, handler: u.wizardSave},
		{Method: "POST", Pattern: "/incidents/{id}/breach/determine/sign", Perm: authz.BreachSign, handler: u.wizardSign},
		{Method: "POST", Pattern: "/incidents/{id}/breach/ask-signer", Perm: authz.IncidentWrite, handler: u.breachAsk},
		{Method: "POST", Pattern: "/incidents/{id}/breach/met", Perm: authz.BreachWrite, handler: u.breachMet},
		{Method: "POST", Pattern: "/incidents/{id}/breach/reopen", Perm: authz.BreachWrite, handler: u.breachReopen},
		{Method: "GET", Pattern: "/breach/deadlines", Perm: authz.IncidentRead, handler: u.breachBoard},
		{Method: "GET", Pattern: "/breach/log", Perm: authz.ReportRead, handler: u.breachLog},
		{Method: "GET", Pattern: "/breach/log.csv", Perm: authz.ReportRead, handler: u.breachLogCSV},
		{Method: "GET", Pattern: "/breach/annual-log", Perm: authz.ReportRead, handler: u.annualLog},
		{Method: "GET", Pattern: "/incidents/{id}/breach/hhs-report", Perm: authz.ReportRead, handler: u.hhsReport},
		{Method: "POST", Pattern: "/incidents/{id}/breach/hhs-report/details", Perm: authz.ReportWrite, handler: u.hhsDetails},
		{Method: "POST", Pattern: "/incidents/{id}/breach/hhs-report/filings", Perm: authz.ReportWrite, handler: u.hhsFiling},
		{Method: "GET", Pattern: "/org-profile", Perm: authz.ReportRead, handler: u.orgProfile},
		{Method: "POST", Pattern: "/org-profile", Perm: authz.OrgWrite, handler: u.orgProfileSave},
		{Method: "GET", Pattern: "/incidents/{id}/breach/hhs-report.pdf", Perm: authz.ReportRead, handler: u.hhsReportPDF},
		{Method: "GET", Pattern: "/incidents/{id}/breach/proof-bundle", Perm: authz.ReportRead, handler: u.proofBundle},
		{Method: "GET", Pattern: "/incidents/{id}/breach/individuals", Perm: authz.IncidentRead, handler: u.individualsShow},
		{Method: "POST", Pattern: "/incidents/{id}/breach/individuals/import", Perm: authz.BreachWrite, MaxBody: -1, handler: u.individualsUpload},
		{Method: "GET", Pattern: "/breach/parties", Perm: authz.IncidentRead, handler: u.partiesShow},
		{Method: "GET", Pattern: "/breach/state-rules", Perm: authz.IncidentRead, handler: u.statesShow},
		{Method: "POST", Pattern: "/breach/state-rules", Perm: authz.OrgWrite, handler: u.statesSave},
		{Method: "POST", Pattern: "/breach/organisation", Perm: authz.BreachWrite, handler: u.organisationSave},
		{Method: "POST", Pattern: "/breach/parties", Perm: authz.BreachWrite, handler: u.partySave},
		{Method: "POST", Pattern: "/breach/parties/{party_id}", Perm: authz.BreachWrite, handler: u.partySave},
		{Method: "POST", Pattern: "/breach/parties/{party_id}/archive", Perm: authz.BreachWrite, handler: u.partyArchive},
		{Method: "POST", Pattern: "/officer-alerts/{officer_alert}/acknowledge", Perm: authz.RestrictedManage, handler: u.officerAck},

		{Method: "GET", Pattern: "/services", Perm: authz.IncidentRead, handler: u.serviceList},
		{Method: "POST", Pattern: "/services", Perm: authz.ServiceWrite, handler: u.serviceCreate},
		{Method: "GET", Pattern: "/services/{service}", Perm: authz.IncidentRead, handler: u.serviceShow},
		{Method: "POST", Pattern: "/services/{service}/edit", Perm: authz.ServiceWrite, handler: u.serviceUpdate},
		{Method: "POST", Pattern: "/services/{service}/integrations", Perm: authz.ServiceWrite, handler: u.integrationCreate},
		{Method: "GET", Pattern: "/services/{service}/integrations/{integration}/key", Perm: authz.ServiceWrite, handler: u.integrationKey},
		{Method: "POST", Pattern: "/services/{service}/integrations/{integration}/revoke", Perm: authz.ServiceWrite, handler: u.integrationRevoke},
		{Method: "POST", Pattern: "/services/{service}/maintenance", Perm: authz.ServiceWrite, handler: u.windowCreate},
		{Method: "POST", Pattern: "/services/{service}/maintenance/{window}/end", Perm: authz.ServiceWrite, handler: u.windowEnd},
		{Method: "GET", Pattern: "/alerts", Perm: authz.IncidentRead, handler: u.alertList},
		{Method: "GET", Pattern: "/alerts/{alert}", Perm: authz.IncidentRead, handler: u.alertShow},

		{Method: "GET", Pattern: "/escalation-policies", Perm: authz.IncidentRead, handler: u.policyList},
		{Method: "POST", Pattern: "/escalation-policies", Perm: authz.OnCallWrite, handler: u.policyCreate},
		{Method: "GET", Pattern: "/escalation-policies/{policy}", Perm: authz.IncidentRead, handler: u.policyShow},
		{Method: "POST", Pattern: "/escalation-policies/{policy}/edit", Perm: authz.OnCallWrite, handler: u.policyUpdate},
		{Method: "GET", Pattern: "/schedules", Perm: authz.IncidentRead, handler: u.scheduleList},
		{Method: "POST", Pattern: "/schedules", Perm: authz.OnCallWrite, handler: u.scheduleCreate},
		{Method: "GET", Pattern: "/schedules/{schedule}", Perm: authz.IncidentRead, handler: u.scheduleShow},
		{Method: "POST", Pattern: "/schedules/{schedule}/edit", Perm: authz.OnCallWrite, handler: u.scheduleUpdate},
		{Method: "GET", Pattern: "/schedules/{schedule}/calendar", Perm: authz.IncidentRead, handler: u.calendar},
		{Method: "POST", Pattern: "/schedules/{schedule}/overrides", Perm: authz.OnCallWrite, handler: u.overrideCreate},
		{Method: "POST", Pattern: "/schedules/{schedule}/overrides/{override}/delete", Perm: authz.OnCallWrite, handler: u.overrideDelete},

		{Method: "GET", Pattern: "/stakeholders", Perm: authz.IncidentRead, handler: u.groupList},
		{Method: "POST", Pattern: "/stakeholders", Perm: authz.StakeholderWrite, handler: u.groupCreate},
		{Method: "GET", Pattern: "/stakeholders/contacts", Perm: authz.IncidentReadPHI, handler: u.externalContactList},
		{Method: "POST", Pattern: "/stakeholders/contacts", Perm: authz.StakeholderWrite, handler: u.externalContactCreate},
		{Method: "GET", Pattern: "/stakeholders/contacts/{external}", Perm: authz.IncidentReadPHI, handler: u.externalContactShow},
		{Method: "POST", Pattern: "/stakeholders/contacts/{external}/edit", Perm: authz.StakeholderWrite, handler: u.externalContactUpdate},
		{Method: "POST", Pattern: "/stakeholders/contacts/{external}/delete", Perm: authz.StakeholderWrite, handler: u.externalContactDelete},
		{Method: "GET", Pattern: "/stakeholders/templates", Perm: authz.IncidentRead, handler: u.updateTemplateList},
		{Method: "POST", Pattern: "/stakeholders/templates", Perm: authz.StakeholderWrite, handler: u.updateTemplateCreate},
		{Method: "GET", Pattern: "/stakeholders/templates/{update_template}", Perm: authz.IncidentRead, handler: u.updateTemplateShow},
		{Method: "POST", Pattern: "/stakeholders/templates/{update_template}/edit", Perm: authz.StakeholderWrite, handler: u.updateTemplateUpdate},
		{Method: "POST", Pattern: "/stakeholders/templates/{update_template}/delete", Perm: authz.StakeholderWrite, handler: u.updateTemplateDelete},
		{Method: "GET", Pattern: "/stakeholders/{group}", Perm: authz.IncidentRead, handler: u.groupShow},
		{Method: "POST", Pattern: "/stakeholders/{group}/edit", Perm: authz.StakeholderWrite, handler: u.groupUpdate},
		{Method: "GET", Pattern: "/sla-policies", Perm: authz.IncidentRead, handler: u.slaList},
		{Method: "GET", Pattern: "/reports/sla", Perm: authz.IncidentRead, handler: u.slaReport},
		{Method: "POST", Pattern: "/sla-policies/{severity}", Perm: authz.OnCallWrite, handler: u.slaSave},

		{Method: "GET", Pattern: "/rules", Perm: authz.IncidentRead, handler: u.workflowList},
		{Method: "POST", Pattern: "/rules", Perm: authz.OnCallWrite, handler: u.workflowCreate},
		{Method: "POST", Pattern: "/rules/dry-run", Perm: authz.IncidentRead, ChangesNothing: true, handler: u.workflowDryRun},
		{Method: "GET", Pattern: "/rules/{rule}", Perm: authz.IncidentRead, handler: u.workflowShow},
		{Method: "POST", Pattern: "/rules/{rule}/edit", Perm: authz.OnCallWrite, handler: u.workflowUpdate},
		{Method: "POST", Pattern: "/rules/{rule}/dry-run", Perm: authz.IncidentRead, ChangesNothing: true, handler: u.workflowDryRun},
		{Method: "POST", Pattern: "/alert-rules", Perm: authz.OnCallWrite, handler: u.alertRuleCreate},
		{Method: "POST", Pattern: "/alert-rules/dry-run", Perm: authz.IncidentRead, ChangesNothing: true, handler: u.alertRuleTry},
		{Method: "POST", Pattern: "/alert-rules/{alert_rule}/dry-run", Perm: authz.IncidentRead, ChangesNothing: true, handler: u.alertRuleTry},
		{Method: "GET", Pattern: "/alert-rules/{alert_rule}", Perm: authz.IncidentRead, handler: u.alertRuleShow},
		{Method: "POST", Pattern: "/alert-rules/{alert_rule}/edit", Perm: authz.OnCallWrite, handler: u.alertRuleUpdate},
		{Method: "POST", Pattern: "/alert-rules/{alert_rule}/enabled", Perm: authz.OnCallWrite, handler: u.alertRuleEnable},
		{Method: "POST", Pattern: "/alert-rules/{alert_rule}/delete", Perm: authz.OnCallWrite, handler: u.alertRuleDelete},

		{Method: "GET", Pattern: "/profile", Perm: SignedIn, handler: u.profile},
		{Method: "GET", Pattern: "/profile/contact", Perm: authz.ContactSelf, handler: u.contactShow},
		{Method: "POST", Pattern: "/profile/contact", Perm: authz.ContactSelf, handler: u.contactCreate},
		{Method: "POST", Pattern: "/profile/contact/{contact}/verify", Perm: authz.ContactSelf, handler: u.contactVerify},
		{Method: "POST", Pattern: "/profile/contact/{contact}/resend", Perm: authz.ContactSelf, handler: u.contactResend},
		{Method: "POST", Pattern: "/profile/contact/{contact}/status-updates", Perm: authz.ContactSelf, handler: u.contactStatusUpdates},
		{Method: "POST", Pattern: "/profile/contact/{contact}/delete", Perm: authz.ContactSelf, handler: u.contactDelete},
		{Method: "POST", Pattern: "/profile/rules", Perm: authz.ContactSelf, handler: u.ruleCreate},
		{Method: "POST", Pattern: "/profile/rules/{rule}/delete", Perm: authz.ContactSelf, handler: u.ruleDelete},
		{Method: "POST", Pattern: "/profile/password", Perm: SignedIn, handler: u.changePassword},
		{Method: "POST", Pattern: "/profile/calendar-feeds", Perm: authz.ContactSelf, handler: u.calendarFeedCreate},
		{Method: "POST", Pattern: "/profile/calendar-feeds/{feed}/revoke", Perm: authz.ContactSelf, handler: u.calendarFeedRevoke},
		{Method: "POST", Pattern: "/profile/logout-everywhere", Perm: SignedIn, handler: u.logoutEverywhere},
		{Method: "GET", Pattern: "/mfa/enroll", Perm: SignedIn, Stages: enrol, handler: u.enrollForm},
		{Method: "POST", Pattern: "/mfa/enroll", Perm: SignedIn, Stages: enrol, handler: u.enroll},
		{Method: "POST", Pattern: "/mfa/webauthn/begin", Perm: SignedIn, Stages: enrol, handler: u.keyRegisterBegin},
		{Method: "POST", Pattern: "/mfa/webauthn", Perm: SignedIn, Stages: enrol, handler: u.keyRegister},
		{Method: "POST", Pattern: "/profile/webauthn/{key}/delete", Perm: SignedIn, handler: u.keyRemove},
		{Method: "GET", Pattern: "/mfa/recovery-codes", Perm: SignedIn, Stages: enrol, handler: u.keyRecoveryCodes},
		{Method: "POST", Pattern: "/profile/recovery-codes", Perm: SignedIn, handler: u.recoveryCodesRegenerate},

		{Method: "GET", Pattern: "/admin/users", Perm: authz.UserAdmin, handler: u.users},
		{Method: "POST", Pattern: "/admin/users", Perm: authz.UserAdmin, handler: u.userCreate},
		{Method: "POST", Pattern: "/admin/users/{id}", Perm: authz.UserAdmin, handler: u.userUpdate},
		{Method: "GET", Pattern: "/admin/users/{user}/contact", Perm: authz.UserAdmin, handler: u.contactShow},
		{Method: "POST", Pattern: "/admin/users/{user}/contact", Perm: authz.UserAdmin, handler: u.contactCreate},
		{Method: "POST", Pattern: "/admin/users/{user}/contact/{contact}/verify", Perm: authz.UserAdmin, handler: u.contactVerify},
		{Method: "POST", Pattern: "/admin/users/{user}/contact/{contact}/resend", Perm: authz.UserAdmin, handler: u.contactResend},
		{Method: "POST", Pattern: "/admin/users/{user}/contact/{contact}/status-updates", Perm: authz.UserAdmin, handler: u.contactStatusUpdates},
		{Method: "POST", Pattern: "/admin/users/{user}/contact/{contact}/delete", Perm: authz.UserAdmin, handler: u.contactDelete},
		{Method: "POST", Pattern: "/admin/users/{user}/rules", Perm: authz.UserAdmin, handler: u.ruleCreate},
		{Method: "POST", Pattern: "/admin/users/{user}/rules/{rule}/delete", Perm: authz.UserAdmin, handler: u.ruleDelete},

		{Method: "GET", Pattern: "/audit", Perm: authz.AuditRead, handler: u.auditLog},
		{Method: "GET", Pattern: "/audit/integrity", Perm: authz.AuditRead, handler: u.auditIntegrity},
		{Method: "POST", Pattern: "/audit/integrity/{segment}/review", Perm: authz.RestrictedManage, handler: u.auditBreakReview},
		{Method: "GET", Pattern: "/admin/retention", Perm: authz.RetentionRead, handler: u.retentionShow},
		{Method: "POST", Pattern: "/admin/retention", Perm: authz.RetentionWrite, handler: u.retentionSave},
		{Method: "POST", Pattern: "/incidents/{id}/evidence", Perm: authz.EvidenceWrite, MaxBody: -1, handler: u.evidenceUpload},
		{Method: "GET", Pattern: "/incidents/{id}/evidence/{item}", Perm: authz.EvidenceRead, handler: u.evidenceShow},
		{Method: "GET", Pattern: "/incidents/{id}/evidence/{item}/download", Perm: authz.EvidenceRead, handler: u.evidenceDownload},
		{Method: "POST", Pattern: "/incidents/{id}/evidence/{item}/custody", Perm: authz.EvidenceWrite, handler: u.evidenceCustody},
		{Method: "POST", Pattern: "/incidents/{id}/evidence/{item}/verify", Perm: authz.EvidenceWrite, handler: u.evidenceVerify},
		{Method: "POST", Pattern: "/incidents/{id}/evidence/{item}/legal-hold", Perm: authz.LegalHold, handler: u.evidenceHoldPlace},
		{Method: "POST", Pattern: "/incidents/{id}/evidence/{item}/legal-hold/release", Perm: authz.LegalHold, handler: u.evidenceHoldRelease},
		{Method: "POST", Pattern: "/incidents/{id}/legal-hold", Perm: authz.LegalHold, handler: u.legalHoldPlace},
		{Method: "POST", Pattern: "/incidents/{id}/legal-hold/release", Perm: authz.LegalHold, handler: u.legalHoldRelease},
		{Method: "POST", Pattern: "/incidents/{id}/breach/legal-hold", Perm: authz.LegalHold, handler: u.legalHoldPlace},
		{Method: "POST", Pattern: "/incidents/{id}/breach/legal-hold/release", Perm: authz.LegalHold, handler: u.legalHoldRelease},
	}...)
}

// Register adds the UI's routes and its static assets to mux.
func (u *UI) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(http.FileServerFS(static))))
	mux.Handle("GET /favicon.ico", http.RedirectHandler("/static/favicon.svg", http.StatusMovedPermanently))
	mux.Handle(fallbackPattern, u.fallback(mux))
	cop := http.NewCrossOriginProtection()
	for _, rt := range u.Routes() {
		var h http.Handler = u.guard(rt)
		if rt.Method != http.MethodGet {
			h = cop.Handler(h)
		}
		mux.Handle(rt.Method+" "+rt.Pattern, h)
	}
}

// staticHandler lets browsers cache assets for a day.
func staticHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}

// guard enforces a route's session, stage, permission and CSRF rules.
func (u *UI) guard(rt Route) http.Handler {
	stages := rt.Stages
	if len(stages) == 0 {
		stages = []user.Stage{user.StageFull}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !u.formPolicy(w, r, rt) {
			return
		}
		if rt.Perm == Public {
			rt.handler(w, r)
			return
		}
		c, err := r.Cookie(u.sessionCookie())
		if err != nil || c.Value == "" {
			u.toLogin(w, r, "")
			return
		}
		actor, sess, err := u.Users.Authenticate(r.Context(), c.Value)
		if err != nil {
			if apperr.CodeOf(err) != apperr.Unauthorized {
				u.fail(w, r, err)
				return
			}
			reason, _ := u.Users.EndedReason(r.Context(), c.Value)
			u.clearSession(w)
			u.toLogin(w, r, endedMessage(reason))
			return
		}
		if !slices.Contains(stages, sess.Stage) {
			switch sess.Stage {
			case user.StageMFA:
				redirect(w, r, "/login/mfa")
			case user.StageEnrollMFA:
				redirect(w, r, "/mfa/enroll?msg=need_mfa_enrol")
			default:
				redirect(w, r, "/")
			}
			return
		}
		ctx := user.WithSession(authz.WithActor(r.Context(), actor), sess)
		ctx = contextWithCSRF(ctx, csrfToken(c.Value))
		r = r.WithContext(ctx)
		if rt.Perm != SignedIn && !authz.Has(actor.Role, rt.Perm) {
			u.fail(w, r, apperr.New(apperr.Forbidden, "Your role (%s) does not allow this.", actor.Role))
			return
		}
		if r.Method != http.MethodGet {
			var got string
			got, r = postedCSRF(r)
			if subtle.ConstantTimeCompare([]byte(got), []byte(csrfFrom(r))) != 1 {
				u.fail(w, r, apperr.New(apperr.Forbidden, "%s", errBadCSRF))
				return
			}
		}
		rt.handler(w, r)
	})
}

// endedMessage maps why a session ended to the flash shown at sign-in.
func endedMessage(reason string) string {
	switch reason {
	case "idle":
		return "idle"
	case "expired":
		return "expired"
	case "signed_in_elsewhere":
		return "elsewhere"
	case "revoked", "disabled", "mfa_reset":
		return "revoked"
	case "password_changed":
		return "password_changed"
	}
	return ""
}

// toLogin sends the browser to the sign-in page, remembering where it was.
func (u *UI) toLogin(w http.ResponseWriter, r *http.Request, msg string) {
	q := url.Values{}
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		q.Set("next", r.URL.Path)
	}
	if msg != "" {
		q.Set("msg", msg)
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	redirect(w, r, target)
}

// redirect answers with a See Other, or for htmx requests with HX-Redirect
// so that the whole page moves.
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// safeNext keeps a post-sign-in redirect on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/"
	}
	return next
}

func urlQuery(s string) string { return url.QueryEscape(s) }

// withMsg adds a flash code to a local URL.
func withMsg(target, msg string) string {
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	return target + sep + "msg=" + msg
}

// Package authz carries who is acting, and the request facts the audit
// trail records, through a context, and decides what that actor may do.
package authz

import (
	"context"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
)

// Kind says what sort of actor is acting.
type Kind string

// The actor kinds.
const (
	KindUser   Kind = "user"   // a person signed in to the web UI
	KindToken  Kind = "token"  // an API token
	KindCLI    Kind = "cli"    // an operator at the ward command line
	KindSystem Kind = "system" // Ward itself (jobs, start-up)
	// KindIntegration is a monitoring tool sending alerts with an
	// integration key; it acts with the responder role, so it may open
	// incidents and nothing more.
	KindIntegration Kind = "integration"
)

// Role is a set of permissions; each user and API token has one.
type Role string

// The roles. HIPAA requires a named Security Officer (45 CFR 164.308(a)(2))
// and Privacy Officer (164.530(a)); least privilege (164.308(a)(4),
// 164.312(a)(1)) decides what each role may do.
const (
	RoleAdmin           Role = "admin"            // runs Ward: users, tokens, settings; works incidents
	RoleSecurityOfficer Role = "security_officer" // owns incident response; sees restricted incidents and PHI
	RolePrivacyOfficer  Role = "privacy_officer"  // owns breach decisions; sees restricted incidents and PHI
	RoleResponder       Role = "responder"        // works incidents; sees PHI on those it may see
	RoleStakeholder     Role = "stakeholder"      // reads incidents, without PHI
	RoleAuditor         Role = "auditor"          // reads everything, the audit trail included; changes nothing
	// RoleCounsel is the organisation's lawyer (in-house or outside
	// counsel): reads incidents, their PHI, evidence and breach reports to
	// give legal advice, and alone with the Privacy Officer sees and marks
	// what is privileged (attorney work product); changes nothing else.
	RoleCounsel Role = "counsel"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleSecurityOfficer, RolePrivacyOfficer, RoleResponder, RoleStakeholder, RoleAuditor, RoleCounsel}

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return slices.Contains(Roles, r) }

// RoleNames lists the roles for messages: "admin, security_officer, ...".
func RoleNames() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// PrivilegedRole reports whether r must use MFA to sign in: the
// administrators, the officers and counsel, who sees privileged content.
func PrivilegedRole(r Role) bool {
	return r == RoleAdmin || r == RoleSecurityOfficer || r == RolePrivacyOfficer || r == RoleCounsel
}

// Permission names one thing an actor may do.
type Permission string

// The permissions; Permissions says what each allows.
const (
	IncidentRead       Permission = "incident:read"
	IncidentWrite      Permission = "incident:write"
	IncidentReadPHI    Permission = "incident:read_phi"
	IncidentRestricted Permission = "incident:restricted"
	BreakGlass         Permission = "incident:break_glass"
	RestrictedManage   Permission = "restricted:manage"
	AuditRead          Permission = "audit:read"
	UserAdmin          Permission = "user:admin"
	ServiceWrite       Permission = "service:write"
	OnCallWrite        Permission = "oncall:write"
	StakeholderWrite   Permission = "stakeholder:write"
	BreachWrite        Permission = "breach:write"
	BreachSign         Permission = "breach:sign"
	ContactSelf        Permission = "contact:self"
	ReportRead         Permission = "report:read"
	ReportWrite        Permission = "report:write"
	OrgWrite           Permission = "org:write"
	RetentionRead      Permission = "retention:read"
	RetentionWrite     Permission = "retention:write"
	LegalHold          Permission = "retention:hold"
	EvidenceRead       Permission = "evidence:read"
	EvidenceWrite      Permission = "evidence:write"
	ReviewWaive        Permission = "incident:waive_review"
	PrivilegedRead     Permission = "privileged:read"
	PrivilegedMark     Permission = "privileged:mark"
	DrillRun           Permission = "drill:run"
)

// PermissionInfo is a permission and what it allows, for people.
type PermissionInfo struct {
	Permission Permission
	Allows     string
}

// Permissions lists every permission with what it allows, in the order
// docs/PERMISSIONS.md shows them.
var Permissions = []PermissionInfo{
	{IncidentRead, "see incidents (restricted ones only as a member), alerts, services, schedules, rules and breach cases"},
	{IncidentWrite, "create and change incidents, their notes, tasks, members and pages"},
	{IncidentReadPHI, "see PHI fields unredacted (each read is audited)"},
	{IncidentRestricted, "see every restricted incident, its break-glass grants and the officer alerts"},
	{BreakGlass, "ask for emergency (break-glass) access to a restricted incident (164.312(a)(2)(ii))"},
	{RestrictedManage, "end a break-glass grant early, acknowledge officer alerts and review breaks of the audit trail (the Security and Privacy Officers)"},
	{AuditRead, "read the audit trail"},
	{UserAdmin, "manage users, roles, sessions, sign-up links and API tokens, and provision people over SCIM at /scim/v2 (with an API token only; docs/PEOPLE_API.md)"},
	{ServiceWrite, "manage services, integration keys and maintenance windows"},
	{OnCallWrite, "manage escalation policies, schedules, overrides, SLA policies, workflow rules, alert rules and playbooks"},
	{StakeholderWrite, "manage stakeholder groups and external stakeholder contacts"},
	{BreachWrite, "open breach cases, record their facts, import individuals, manage parties and notices"},
	{BreachSign, "sign a breach determination (the Privacy Officer, 164.530(a))"},
	{ContactSelf, "manage one's own contact methods and notification rules"},
	{ReportRead, "read breach reports: HHS packets and filings, the annual and breach logs, proof bundles"},
	{ReportWrite, "fill a case's HHS report details and record filings (the officers)"},
	{OrgWrite, "edit the organisation's profile the HHS report names and the State table"},
	{RetentionRead, "see the retention policy, legal holds with their reasons (each read is audited) and what a purge would remove now"},
	{RetentionWrite, "change the retention policy (never below the legal minimum, 164.316(b)(2)(i))"},
	{LegalHold, "place and release legal holds on incidents and breach cases (the officers and administrators)"},
	{EvidenceRead, "see incidents' evidence items and chains of custody, and download their content (each read is audited and recorded in the item's chain of custody)"},
	{EvidenceWrite, "add evidence to incidents, record custody events (transfers, copies, returns, releases, destruction) and check evidence integrity"},
	{ReviewWaive, "let an incident close as resolved without a complete post-incident review, giving a reason (the Security Officer and administrators)"},
	{PrivilegedRead, "see the content of notes, evidence and post-incident reviews marked privileged & confidential (attorney work product), and ask for them in reports and exports (counsel and the Privacy Officer; each read is audited)"},
	{PrivilegedMark, "mark notes, evidence items and post-incident reviews privileged & confidential (attorney work product), name who holds the privilege, and unmark them (counsel and the Privacy Officer)"},
	{DrillRun, "start a drill: an exercise of the response plan from a playbook, kept as proof of testing (164.308(a)(7)(ii)(D)) and left out of breach reports and counts (the officers and administrators)"},
}

// rolePermissions is the one permission table; routes and services check
// it. The auditor holds only permissions that read (164.308(a)(4)): it
// changes nothing, and the permission-matrix tests prove it. The audit
// trail is read by the auditor and the Security and Privacy Officers
// (information system activity review, 164.308(a)(1)(ii)(D)), not by the
// administrators whose actions it records. Privileged content (attorney
// work product) is read and marked by counsel and the Privacy Officer
// only; counsel otherwise reads what legal advice needs and changes
// nothing.
var rolePermissions = map[Role][]Permission{
	RoleAdmin: {IncidentRead, IncidentWrite, IncidentReadPHI, BreakGlass, UserAdmin, ServiceWrite, OnCallWrite, StakeholderWrite,
		BreachWrite, ContactSelf, ReportRead, OrgWrite, RetentionRead, RetentionWrite, LegalHold, EvidenceRead, EvidenceWrite, ReviewWaive, DrillRun},
	RoleSecurityOfficer: {IncidentRead, IncidentWrite, IncidentReadPHI, IncidentRestricted, BreakGlass, RestrictedManage, AuditRead,
		ServiceWrite, OnCallWrite, StakeholderWrite, BreachWrite, ContactSelf, ReportRead, ReportWrite, RetentionRead, LegalHold,
		EvidenceRead, EvidenceWrite, ReviewWaive, DrillRun},
	RolePrivacyOfficer: {IncidentRead, IncidentWrite, IncidentReadPHI, IncidentRestricted, BreakGlass, RestrictedManage, AuditRead,
		StakeholderWrite, BreachWrite, BreachSign, ContactSelf, ReportRead, ReportWrite, RetentionRead, LegalHold, EvidenceRead, EvidenceWrite,
		PrivilegedRead, PrivilegedMark, DrillRun},
	RoleResponder:   {IncidentRead, IncidentWrite, IncidentReadPHI, BreakGlass, ContactSelf, EvidenceRead, EvidenceWrite},
	RoleStakeholder: {IncidentRead, BreakGlass, ContactSelf},
	RoleAuditor:     {IncidentRead, IncidentReadPHI, IncidentRestricted, AuditRead, ReportRead, RetentionRead, EvidenceRead},
	RoleCounsel:     {IncidentRead, IncidentReadPHI, ContactSelf, ReportRead, EvidenceRead, PrivilegedRead, PrivilegedMark},
}

// Has reports whether role r holds permission p.
func Has(r Role, p Permission) bool { return slices.Contains(rolePermissions[r], p) }

// Actor is who is acting.
type Actor struct {
	Kind Kind
	ID   string
	Name string
	Role Role
}

// String is the actor as the audit trail and timeline record it.
func (a Actor) String() string { return string(a.Kind) + ":" + a.Name }

// System is Ward acting on its own behalf.
var System = Actor{Kind: KindSystem, ID: "ward", Name: "ward", Role: RoleAdmin}

// Request is what the audit trail records of where a change came from.
type Request struct {
	ID       string
	SourceIP string
}

type actorKey struct{}
type requestKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request facts in ctx, empty when there are none.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// Check returns the actor in ctx if it holds p, else an Unauthorized or
// Forbidden error.
func Check(ctx context.Context, p Permission) (Actor, error) {
	a, ok := ActorFrom(ctx)
	if !ok {
		return Actor{}, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if !Has(a.Role, p) {
		return Actor{}, apperr.New(apperr.Forbidden, "permission %s required", p)
	}
	return a, nil
}

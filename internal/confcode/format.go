// Package confcode is configuration as code: it exports Ward's
// configuration (services, escalation policies, schedules, SLA policies,
// stakeholder groups, alert rules) as YAML files
// that reference each other by name, shows how files differ from the
// running database, and applies them in one audited transaction through
// the same checks the services make (docs/CONFIG_AS_CODE.md).
package confcode

// Bundle is the whole configuration: one list per kind, each sorted by
// name. Its JSON form is what the API serves and takes; its YAML form is
// one file per kind (Files).
type Bundle struct {
	Services           []Service   `yaml:"services,omitempty" json:"services,omitempty" doc:"Services, by name."`
	EscalationPolicies []Policy    `yaml:"escalation_policies,omitempty" json:"escalation_policies,omitempty" doc:"Escalation policies, by name."`
	Schedules          []Schedule  `yaml:"schedules,omitempty" json:"schedules,omitempty" doc:"On-call schedules, by name."`
	SLAPolicies        []SLAPolicy `yaml:"sla_policies,omitempty" json:"sla_policies,omitempty" doc:"The SLA of each severity, sev1 to sev4."`
	AlertRules         []AlertRule `yaml:"alert_rules,omitempty" json:"alert_rules,omitempty" doc:"Rules on alerts at intake, by name."`
	StakeholderGroups  []Group     `yaml:"stakeholder_groups,omitempty" json:"stakeholder_groups,omitempty" doc:"Stakeholder groups, by name; created and updated, never deleted."`
}

// Group is a stakeholder group: people told of incidents, subscribed by
// hand or by a rule (docs/STAKEHOLDERS.md).
type Group struct {
	Name        string   `yaml:"name" json:"name" minLength:"1" maxLength:"100"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty" maxLength:"2000"`
	Audience    string   `yaml:"audience,omitempty" json:"audience,omitempty" doc:"The audience whose status updates the group hears of: internal (default), executives, counsel, public, or customer: followed by a customer's name in the breach registry."`
	Members     []string `yaml:"members,omitempty,flow" json:"members,omitempty" maxItems:"200" doc:"Usernames."`
	Subscribe   *Match   `yaml:"subscribe,omitempty" json:"subscribe,omitempty" doc:"Subscribes the group to every incident that meets all the conditions given ({} : every incident); absent: only by hand."`
}

// Match is a stakeholder group's rule: every condition given must hold.
type Match struct {
	Services     []string `yaml:"services,omitempty,flow" json:"services,omitempty" doc:"Services' names: an incident fed by one of them."`
	Severities   []string `yaml:"severities,omitempty,flow" json:"severities,omitempty" doc:"sev1 to sev4."`
	Categories   []string `yaml:"categories,omitempty,flow" json:"categories,omitempty" doc:"Incident categories."`
	PHISuspected *bool    `yaml:"phi_suspected,omitempty" json:"phi_suspected,omitempty"`
}

// AlertRule is a rule on alerts at intake: a CEL expression over the
// alert as it arrives and what to do with it (docs/RULES.md).
type AlertRule struct {
	Name        string        `yaml:"name" json:"name" minLength:"1" maxLength:"100" doc:"Unique; enabled rules run in name order."`
	Description string        `yaml:"description,omitempty" json:"description,omitempty" maxLength:"2000"`
	Expression  string        `yaml:"expression" json:"expression" minLength:"1" maxLength:"2000" doc:"A CEL expression over alert (service, integration, kind, summary, source, severity, component, group, class, labels) that is true or false."`
	Enabled     bool          `yaml:"enabled" json:"enabled" doc:"Required: false keeps the rule without running it."`
	Actions     []AlertAction `yaml:"actions" json:"actions" minItems:"1" maxItems:"4" doc:"At most one of each type; a rule that suppresses cannot route."`
}

// AlertAction is one thing an alert rule does; each type at most once.
type AlertAction struct {
	Type     string   `yaml:"type" json:"type" enum:"route,suppress,set_severity,add_tags"`
	Service  string   `yaml:"service,omitempty" json:"service,omitempty" doc:"route: the name of the service the alert is recorded on instead."`
	Severity string   `yaml:"severity,omitempty" json:"severity,omitempty" enum:"critical,error,warning,info" doc:"set_severity: the alert's severity."`
	Tags     []string `yaml:"tags,omitempty,flow" json:"tags,omitempty" maxItems:"10" doc:"add_tags: 1 to 10 tags of up to 50 characters."`
}

// SLAPolicy is the SLA of one severity: minutes from the incident's
// creation to each target, and between status updates; 0 means no target.
// Every severity has one; files change them and never delete them.
type SLAPolicy struct {
	Severity              string `yaml:"severity" json:"severity" enum:"sev1,sev2,sev3,sev4"`
	AckMinutes            int    `yaml:"ack_minutes" json:"ack_minutes" minimum:"0" doc:"The page acknowledged."`
	FirstUpdateMinutes    int    `yaml:"first_update_minutes" json:"first_update_minutes" minimum:"0" doc:"The first status update to stakeholders."`
	UpdateIntervalMinutes int    `yaml:"update_interval_minutes" json:"update_interval_minutes" minimum:"0" doc:"Then one at least this often until the incident closes."`
	ContainMinutes        int    `yaml:"contain_minutes" json:"contain_minutes" minimum:"0" doc:"The incident moved past containment."`
	ResolveMinutes        int    `yaml:"resolve_minutes" json:"resolve_minutes" minimum:"0" doc:"The incident closed."`
}

// Service is a monitored service.
type Service struct {
	Name             string `yaml:"name" json:"name" minLength:"1" maxLength:"100" doc:"Unique; other objects name it."`
	Description      string `yaml:"description,omitempty" json:"description,omitempty" maxLength:"2000"`
	HandlesPHI       bool   `yaml:"handles_phi,omitempty" json:"handles_phi,omitempty" doc:"Alerts from this service mark their incident phi_suspected."`
	GroupBy          string `yaml:"group_by,omitempty" json:"group_by,omitempty" enum:"source,alert,service" doc:"How alerts group into incidents; default source."`
	EscalationPolicy string `yaml:"escalation_policy,omitempty" json:"escalation_policy,omitempty" doc:"The name of the escalation policy that pages for the service; absent: nobody is paged."`
	// Integrations are exported for reference only (kind and name, never
	// the key); apply does not create or remove them.
	Integrations []Integration `yaml:"integrations,omitempty" json:"integrations,omitempty" readOnly:"true" doc:"The service's integrations, by kind and name (never the key). Exported for reference: apply neither creates nor removes integrations, since each key is shown once when it is made in Ward."`
}

// Integration is an integration of a service, without its key.
type Integration struct {
	Kind string `yaml:"kind" json:"kind" enum:"events_v2,alertmanager,grafana,sns,webhook,heartbeat,email"`
	Name string `yaml:"name" json:"name"`
}

// Policy is an escalation policy.
type Policy struct {
	Name              string `yaml:"name" json:"name" minLength:"1" maxLength:"100"`
	Description       string `yaml:"description,omitempty" json:"description,omitempty"`
	Repeat            int    `yaml:"repeat,omitempty" json:"repeat,omitempty" minimum:"0" maximum:"9" doc:"How many more times the steps run after the last."`
	AckTimeoutMinutes int    `yaml:"ack_timeout_minutes,omitempty" json:"ack_timeout_minutes,omitempty" doc:"When set, an acknowledged page not resolved within this many minutes pages again from the first step."`
	Steps             []Step `yaml:"steps" json:"steps" minItems:"1"`
}

// Step is one step of a policy.
type Step struct {
	DelayMinutes int      `yaml:"delay_minutes" json:"delay_minutes" minimum:"1" doc:"Minutes without an acknowledgement before the next step."`
	Targets      []Target `yaml:"targets" json:"targets" minItems:"1"`
}

// Target is a user (by username) or a schedule (by name); exactly one is
// set.
type Target struct {
	User     string `yaml:"user,omitempty" json:"user,omitempty" doc:"A username."`
	Schedule string `yaml:"schedule,omitempty" json:"schedule,omitempty" doc:"A schedule's name."`
}

// Schedule is an on-call schedule.
type Schedule struct {
	Name        string     `yaml:"name" json:"name" minLength:"1" maxLength:"100"`
	Description string     `yaml:"description,omitempty" json:"description,omitempty"`
	TimeZone    string     `yaml:"time_zone" json:"time_zone" doc:"An IANA time zone such as America/New_York."`
	Rotations   []Rotation `yaml:"rotations" json:"rotations" minItems:"1" doc:"Layers: a later rotation covers an earlier one where both have someone on call."`
}

// Rotation is one layer of a schedule.
type Rotation struct {
	Name         string   `yaml:"name,omitempty" json:"name,omitempty"`
	Kind         string   `yaml:"kind" json:"kind" enum:"hourly,daily,weekly"`
	ShiftLength  int      `yaml:"shift_length" json:"shift_length" minimum:"1" doc:"Hours, days or weeks per shift, as kind says."`
	Start        string   `yaml:"start" json:"start" format:"date-time" doc:"When the first shift starts (RFC 3339)."`
	End          string   `yaml:"end,omitempty" json:"end,omitempty" format:"date-time" doc:"When the rotation stops (RFC 3339); absent: never."`
	Participants []string `yaml:"participants" json:"participants" doc:"Usernames, in turn order."`
	Restrict     []Window `yaml:"restrict,omitempty" json:"restrict,omitempty" doc:"Parts of the week the rotation covers; absent: all of it."`
}

// Window limits a rotation to part of the week.
type Window struct {
	Days  []string `yaml:"days,omitempty,flow" json:"days,omitempty" doc:"mon … sun; absent: every day."`
	Start string   `yaml:"start" json:"start" doc:"Local time of day, 09:00."`
	End   string   `yaml:"end" json:"end" doc:"Local time of day, 17:00; 24:00 is midnight; before start runs past midnight."`
}

// The files Export writes, one per kind, and the kinds' names in plans.
const (
	ServicesFile   = "services.yaml"
	PoliciesFile   = "escalation_policies.yaml"
	SchedulesFile  = "schedules.yaml"
	SLAFile        = "sla_policies.yaml"
	AlertRulesFile = "alert_rules.yaml"
	GroupsFile     = "stakeholder_groups.yaml"
)

// Files lists the files of a configuration directory, in the order they
// are read.
var Files = []string{SchedulesFile, PoliciesFile, ServicesFile, SLAFile, GroupsFile, AlertRulesFile}

// Package playbook holds Ward's incident-response playbooks: for a kind
// of incident (a lost laptop, ransomware, a misdirected fax), the tasks of
// each lifecycle phase with the role that owns them and when they are
// due, the evidence to collect, and the questions whose answers feed the
// breach case's facts. Eight ship as data (the playbooks directory), each
// step citing the rule or public guidance it follows; people may edit
// them, each edit a new version. Applying a playbook to an incident makes
// its tasks, once per incident and playbook.
package playbook

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/input"
)

//go:embed playbooks/*.json
var shipped embed.FS

// Playbook is one playbook, one version of it.
type Playbook struct {
	Key     string `json:"key"`
	Name    string `json:"name"`
	Version int    `json:"version"`
	Summary string `json:"summary"`
	// Categories are the incident categories it is applied to
	// automatically when an incident is recorded with one of them.
	Categories []incident.Category `json:"categories"`
	// OpensBreachCase says applying it opens the incident's breach case
	// (if it has none).
	OpensBreachCase bool       `json:"opens_breach_case"`
	Sources         []Source   `json:"sources"`
	Phases          []Phase    `json:"phases"`
	Questions       []Question `json:"questions"`
}

// Source is a rule or public guidance a step follows.
type Source struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Phase is what the playbook asks in one lifecycle phase.
type Phase struct {
	Phase    incident.Status `json:"phase"`
	Tasks    []Task          `json:"tasks"`
	Evidence []Prompt        `json:"evidence,omitempty"`
}

// DueFrom is what a task's due offset counts from.
type DueFrom string

// What due offsets count from.
const (
	FromDetection  DueFrom = "detection"
	FromPhaseStart DueFrom = "phase_start"
)

// Task is a task the playbook makes.
type Task struct {
	Title     string     `json:"title"`
	OwnerRole authz.Role `json:"owner_role"`
	DueHours  int        `json:"due_hours"`
	From      DueFrom    `json:"from"`
	Cite      string     `json:"cite"`
}

// Prompt asks for a piece of evidence.
type Prompt struct {
	Text string `json:"text"`
	Cite string `json:"cite"`
}

// Question is asked of the incident; its answer may hold PHI.
type Question struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Help  string `json:"help,omitempty"`
	// Kind is text or choice (one of Choices).
	Kind    string   `json:"kind"`
	Choices []Choice `json:"choices,omitempty"`
	// Feeds names the breach-case question the answer informs: secured
	// (the safe harbor of 164.402), exception (the three exceptions),
	// probability (the four-factor assessment), or nothing.
	Feeds string `json:"feeds,omitempty"`
	Cite  string `json:"cite"`
}

// Choice is one answer a choice question offers.
type Choice struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// Limits of a playbook, enforced on edits and declared in the API schema.
const (
	MaxAnswer    = 2000
	maxText      = 500
	maxItems     = 50
	maxDueHours  = 24 * 366
	questionText = "text"
	choiceKind   = "choice"
)

var feeds = []string{"", "secured", "exception", "probability"}

// Check validates p, naming the field at fault (422).
func Check(p *Playbook) error {
	bad := func(field, format string, args ...any) error { return apperr.Field(field, format, args...) }
	text := func(field, v string, min int) error {
		if reason := input.Text(v); reason != "" {
			return bad(field, "%s", reason)
		}
		if n := len([]rune(strings.TrimSpace(v))); n < min || n > maxText {
			return bad(field, "must be %d to %d characters", min, maxText)
		}
		return nil
	}
	if p.Key == "" || strings.Trim(p.Key, "abcdefghijklmnopqrstuvwxyz_") != "" || len(p.Key) > 50 {
		return bad("key", "must be lower-case letters and underscores")
	}
	if err := text("name", p.Name, 1); err != nil {
		return err
	}
	if p.Version < 1 {
		return bad("version", "must be at least 1")
	}
	if err := text("summary", p.Summary, 0); err != nil {
		return err
	}
	for i, c := range p.Categories {
		if !slices.Contains(incident.Categories, c) || c == incident.NotYetKnown {
			return bad(fmt.Sprintf("categories[%d]", i), "must be a known incident category")
		}
	}
	ids := map[string]bool{}
	for i, s := range p.Sources {
		f := fmt.Sprintf("sources[%d]", i)
		if s.ID == "" || ids[s.ID] {
			return bad(f+".id", "must be set and unique")
		}
		ids[s.ID] = true
		if err := text(f+".title", s.Title, 1); err != nil {
			return err
		}
		if u, err := url.Parse(s.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			return bad(f+".url", "must be a public https address")
		}
	}
	cite := func(field, id string) error {
		if !ids[id] {
			return bad(field, "must name one of the playbook's sources")
		}
		return nil
	}
	if len(p.Phases) == 0 || len(p.Phases) > maxItems {
		return bad("phases", "must list 1 to %d phases", maxItems)
	}
	seen := map[incident.Status]bool{}
	for i, ph := range p.Phases {
		f := fmt.Sprintf("phases[%d]", i)
		if !ph.Phase.Valid() || ph.Phase == incident.Closed || seen[ph.Phase] {
			return bad(f+".phase", "must be a phase before closed, each once")
		}
		seen[ph.Phase] = true
		if len(ph.Tasks) > maxItems || len(ph.Evidence) > maxItems {
			return bad(f, "must list at most %d tasks and %d evidence prompts", maxItems, maxItems)
		}
		for j, t := range ph.Tasks {
			g := fmt.Sprintf("%s.tasks[%d]", f, j)
			if err := text(g+".title", t.Title, 1); err != nil {
				return err
			}
			if len([]rune(t.Title)) > incident.MaxTitle {
				return bad(g+".title", "must be at most %d characters", incident.MaxTitle)
			}
			if !authz.ValidRole(t.OwnerRole) || t.OwnerRole == authz.RoleAuditor || t.OwnerRole == authz.RoleStakeholder {
				return bad(g+".owner_role", "must be a role that works incidents: admin, security_officer, privacy_officer or responder")
			}
			if t.DueHours < 0 || t.DueHours > maxDueHours {
				return bad(g+".due_hours", "must be 0 to %d", maxDueHours)
			}
			if t.From != FromDetection && t.From != FromPhaseStart {
				return bad(g+".from", "must be detection or phase_start")
			}
			if err := cite(g+".cite", t.Cite); err != nil {
				return err
			}
		}
		for j, e := range ph.Evidence {
			g := fmt.Sprintf("%s.evidence[%d]", f, j)
			if err := text(g+".text", e.Text, 1); err != nil {
				return err
			}
			if err := cite(g+".cite", e.Cite); err != nil {
				return err
			}
		}
	}
	keys := map[string]bool{}
	if len(p.Questions) > maxItems {
		return bad("questions", "must list at most %d questions", maxItems)
	}
	for i, q := range p.Questions {
		f := fmt.Sprintf("questions[%d]", i)
		if q.Key == "" || keys[q.Key] || strings.Trim(q.Key, "abcdefghijklmnopqrstuvwxyz_") != "" {
			return bad(f+".key", "must be lower-case letters and underscores, each once")
		}
		keys[q.Key] = true
		if err := text(f+".label", q.Label, 1); err != nil {
			return err
		}
		if err := text(f+".help", q.Help, 0); err != nil {
			return err
		}
		switch q.Kind {
		case questionText:
			if len(q.Choices) > 0 {
				return bad(f+".choices", "only a choice question has choices")
			}
		case choiceKind:
			if len(q.Choices) < 2 {
				return bad(f+".choices", "must list at least 2 choices")
			}
			for j, c := range q.Choices {
				if c.Value == "" || strings.Trim(c.Value, "abcdefghijklmnopqrstuvwxyz_") != "" {
					return bad(fmt.Sprintf("%s.choices[%d].value", f, j), "must be lower-case letters and underscores")
				}
				if err := text(fmt.Sprintf("%s.choices[%d].label", f, j), c.Label, 1); err != nil {
					return err
				}
			}
		default:
			return bad(f+".kind", "must be text or choice")
		}
		if !slices.Contains(feeds, q.Feeds) {
			return bad(f+".feeds", "must be secured, exception, probability or empty")
		}
		if err := cite(f+".cite", q.Cite); err != nil {
			return err
		}
	}
	return nil
}

// Shipped returns the playbooks Ward ships, by key; it fails if one of
// them does not pass Check (a test proves they all do).
func Shipped() (map[string]Playbook, error) {
	files, err := shipped.ReadDir("playbooks")
	if err != nil {
		return nil, err
	}
	out := map[string]Playbook{}
	for _, f := range files {
		b, err := shipped.ReadFile("playbooks/" + f.Name())
		if err != nil {
			return nil, err
		}
		var p Playbook
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("playbook %s: %w", f.Name(), err)
		}
		if err := Check(&p); err != nil {
			return nil, fmt.Errorf("playbook %s: %w", f.Name(), err)
		}
		if f.Name() != p.Key+".json" {
			return nil, fmt.Errorf("playbook %s: key %s does not match the file name", f.Name(), p.Key)
		}
		out[p.Key] = p
	}
	return out, nil
}

// Source returns the source id names, if p has it.
func (p Playbook) Source(id string) Source {
	for _, s := range p.Sources {
		if s.ID == id {
			return s
		}
	}
	return Source{}
}

// Question returns the question with the key, if p has it.
func (p Playbook) Question(key string) (Question, bool) {
	for _, q := range p.Questions {
		if q.Key == key {
			return q, true
		}
	}
	return Question{}, false
}

// AnswerLabel returns the words of a choice answer, or the answer itself.
func (q Question) AnswerLabel(v string) string {
	for _, c := range q.Choices {
		if c.Value == v {
			return c.Label
		}
	}
	return v
}

func sortedKeys(m map[string]Playbook) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

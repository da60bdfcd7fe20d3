package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// ActionStatus is where an action item stands.
type ActionStatus string

// The action item statuses.
const (
	ActionOpen ActionStatus = "open"
	ActionDone ActionStatus = "done"
)

// ActionStatuses lists every action item status.
var ActionStatuses = []ActionStatus{ActionOpen, ActionDone}

// MaxTicketURL caps an action item's link to an external ticket.
const MaxTicketURL = 2000

// MaxActionItems caps the action items one listing returns.
const MaxActionItems = 500

// ActionItem is a follow-up a post-incident review decided on: who does
// it by when, and where it is tracked if elsewhere. It stays tracked after
// its incident closes. Title and TicketURL may hold PHI and are sealed; a
// reader whose role may not see PHI gets them empty and TextRedacted set.
type ActionItem struct {
	ID             string
	IncidentID     string
	IncidentNumber string
	Title          string
	Owner          string // a Ward username
	DueAt          time.Time
	Status         ActionStatus
	TicketURL      string
	DoneAt         *time.Time
	DoneBy         string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	TextRedacted   bool
	// Overdue says the item was open past its due time when it was read.
	Overdue bool
}

// ActionItemInput is a new action item.
type ActionItemInput struct {
	Title     string
	Owner     string
	DueAt     *time.Time
	TicketURL string
}

// ActionItemUpdate holds the fields to change; nil leaves one as it is.
type ActionItemUpdate struct {
	Title     *string
	Owner     *string
	DueAt     *time.Time
	Status    *ActionStatus
	TicketURL *string
}

// ActionFilter selects action items across incidents.
type ActionFilter struct {
	Status ActionStatus // "" for any
	Owner  string       // a username, "" for anyone's
}

const actionColumns = `a.id, a.incident_id, i.number, a.title, a.owner, a.due_at, a.status, a.ticket_url, a.done_at, a.done_by,
	a.created_at, a.updated_at`

func scanActionItem(sc scanner) (ActionItem, error) {
	var a ActionItem
	var done sql.NullTime
	if err := sc.Scan(&a.ID, &a.IncidentID, &a.IncidentNumber, &a.Title, &a.Owner, &a.DueAt, &a.Status, &a.TicketURL, &done,
		&a.DoneBy, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return ActionItem{}, err
	}
	a.DueAt, a.DoneAt, a.CreatedAt, a.UpdatedAt = a.DueAt.UTC(), timePtr(done), a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, nil
}

func scanActionItemRow(r *sql.Rows) (ActionItem, error) { return scanActionItem(r) }

// checkTicketURL accepts an absolute http or https URL with a host.
func checkTicketURL(v string) error {
	if v == "" {
		return nil
	}
	if err := checkTitle("ticket_url", v, 0, MaxTicketURL); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return apperr.Field("ticket_url", "must be a web address starting with https:// or http://")
	}
	return nil
}

// checkOwner requires owner to be the username of an active Ward user.
func checkOwner(ctx context.Context, q db.Querier, owner string) error {
	if err := checkTitle("owner", owner, 1, MaxName); err != nil {
		return err
	}
	var disabled bool
	err := q.QueryRowContext(ctx, "SELECT disabled FROM users WHERE username = $1", owner).Scan(&disabled)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && disabled) {
		return apperr.Field("owner", "must be the username of an active Ward user")
	}
	if err != nil {
		return fmt.Errorf("check owner: %w", err)
	}
	return nil
}

func checkActionItem(a *ActionItem) error {
	if err := checkTitle("title", a.Title, 1, MaxTitle); err != nil {
		return err
	}
	if a.DueAt.IsZero() {
		return apperr.Field("due_at", "is required")
	}
	if err := checkEnum("status", a.Status, ActionStatuses); err != nil {
		return err
	}
	return checkTicketURL(a.TicketURL)
}

// storedActionItem returns a as it is written: its title and link sealed.
func (s *Service) storedActionItem(a *ActionItem) (*ActionItem, error) {
	c := *a
	var err error
	if c.Title, err = keys.ActionItemTitle.SealText(s.keys, a.Title, a.ID); err != nil {
		return nil, err
	}
	c.TicketURL, err = keys.ActionItemTicketURL.SealText(s.keys, a.TicketURL, a.ID)
	return &c, err
}

func (s *Service) openActionItem(a *ActionItem) error {
	var err error
	if a.Title, err = s.open(a.Title, keys.ActionItemTitle, a.ID); err != nil {
		return err
	}
	a.TicketURL, err = s.open(a.TicketURL, keys.ActionItemTicketURL, a.ID)
	return err
}

// CreateActionItem adds an action item to an incident; the timeline
// records it, its text only as set.
func (s *Service) CreateActionItem(ctx context.Context, ref string, in ActionItemInput) (ActionItem, error) {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return ActionItem{}, err
	}
	a := ActionItem{ID: newID(), Title: in.Title, Owner: in.Owner, Status: ActionOpen, TicketURL: in.TicketURL}
	if in.DueAt != nil {
		a.DueAt = clock.Normalize(*in.DueAt)
	}
	if err := checkActionItem(&a); err != nil {
		return ActionItem{}, err
	}
	_, _, err := s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		if err := checkOwner(ctx, tx, a.Owner); err != nil {
			return Event{}, "", err
		}
		a.IncidentID, a.IncidentNumber, a.CreatedAt, a.UpdatedAt = inc.ID, inc.Number, now, now
		row, err := s.storedActionItem(&a)
		if err != nil {
			return Event{}, "", err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_action_items (id, incident_id, title, owner, due_at, status,
			ticket_url, done_at, done_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, '', $8, $8)`,
			row.ID, row.IncidentID, row.Title, row.Owner, row.DueAt, row.Status, row.TicketURL, now); err != nil {
			return Event{}, "", fmt.Errorf("insert action item: %w", err)
		}
		changes := []Change{{Field: "action_item", New: a.ID}, {Field: "title", Redacted: true},
			{Field: "owner", New: a.Owner}, {Field: "due_at", New: a.DueAt}}
		if a.TicketURL != "" {
			changes = append(changes, Change{Field: "ticket_url", Redacted: true})
		}
		return Event{Kind: EventActionItem, FromStatus: inc.Status, ToStatus: inc.Status, Changes: changes},
			"incident.action_item.create", nil
	})
	if err != nil {
		return ActionItem{}, err
	}
	return a, nil
}

// UpdateActionItem changes an action item, also after its incident
// closed; marking it done records by whom and when. The timeline records
// each change, its text only as changed.
func (s *Service) UpdateActionItem(ctx context.Context, ref, id string, in ActionItemUpdate) (ActionItem, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return ActionItem{}, err
	}
	var a ActionItem
	_, _, err = s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		var err error
		a, err = scanActionItem(tx.QueryRowContext(ctx, "SELECT "+actionColumns+` FROM incident_action_items a
			JOIN incidents i ON i.id = a.incident_id WHERE a.incident_id = $1 AND a.id = $2`, inc.ID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return Event{}, "", apperr.New(apperr.NotFound, "action item not found")
		}
		if err != nil {
			return Event{}, "", fmt.Errorf("get action item: %w", err)
		}
		if err := s.openActionItem(&a); err != nil {
			return Event{}, "", err
		}
		changes := []Change{{Field: "action_item", Old: a.ID, New: a.ID}}
		if in.Title != nil && *in.Title != a.Title {
			changes = append(changes, Change{Field: "title", Redacted: true})
			a.Title = *in.Title
		}
		if in.TicketURL != nil && *in.TicketURL != a.TicketURL {
			changes = append(changes, Change{Field: "ticket_url", Redacted: true})
			a.TicketURL = *in.TicketURL
		}
		if in.Owner != nil && *in.Owner != a.Owner {
			if err := checkOwner(ctx, tx, *in.Owner); err != nil {
				return Event{}, "", err
			}
			changes = append(changes, Change{Field: "owner", Old: a.Owner, New: *in.Owner})
			a.Owner = *in.Owner
		}
		if in.DueAt != nil {
			if due := clock.Normalize(*in.DueAt); !due.Equal(a.DueAt) {
				changes = append(changes, Change{Field: "due_at", Old: a.DueAt, New: due})
				a.DueAt = due
			}
		}
		if in.Status != nil && *in.Status != a.Status {
			changes = append(changes, Change{Field: "status", Old: a.Status, New: *in.Status})
			a.Status, a.DoneAt, a.DoneBy = *in.Status, nil, ""
			if a.Status == ActionDone {
				a.DoneAt, a.DoneBy = &now, actor.String()
			}
		}
		if len(changes) == 1 {
			return Event{}, "", errNoChange
		}
		if err := checkActionItem(&a); err != nil {
			return Event{}, "", err
		}
		a.UpdatedAt = now
		row, err := s.storedActionItem(&a)
		if err != nil {
			return Event{}, "", err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_action_items SET title = $1, owner = $2, due_at = $3, status = $4,
			ticket_url = $5, done_at = $6, done_by = $7, updated_at = $8 WHERE id = $9`, row.Title, row.Owner, row.DueAt,
			row.Status, row.TicketURL, nullTime(row.DoneAt), row.DoneBy, now, row.ID); err != nil {
			return Event{}, "", fmt.Errorf("update action item: %w", err)
		}
		return Event{Kind: EventActionItem, FromStatus: inc.Status, ToStatus: inc.Status, Changes: changes},
			"incident.action_item.update", nil
	})
	if err != nil {
		return ActionItem{}, err
	}
	return a, nil
}

// ActionItems lists an incident's action items, oldest first.
func (s *Service) ActionItems(ctx context.Context, ref string) ([]ActionItem, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, "SELECT "+actionColumns+` FROM incident_action_items a
		JOIN incidents i ON i.id = a.incident_id WHERE a.incident_id = $1 ORDER BY a.created_at, a.id`, inc.ID)
	items, err := db.Collect(rows, err, "list action items", scanActionItemRow)
	if err != nil {
		return nil, err
	}
	return items, s.revealActionItems(ctx, items)
}

// ListActionItems lists the action items of the incidents the caller may
// see that match f: overdue first, then by due time.
func (s *Service) ListActionItems(ctx context.Context, f ActionFilter) ([]ActionItem, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	if f.Status != "" {
		if err := checkEnum("status", f.Status, ActionStatuses); err != nil {
			return nil, err
		}
	}
	if err := checkTitle("owner", f.Owner, 0, MaxName); err != nil {
		return nil, err
	}
	v := s.viewer(ctx)
	var args []any
	arg := binder(&args)
	where := v.cond("i", arg)
	if f.Status != "" {
		where += " AND a.status = " + arg(string(f.Status))
	}
	if f.Owner != "" {
		where += " AND a.owner = " + arg(f.Owner)
	}
	order := "CASE WHEN a.status = " + arg(string(ActionOpen)) + " AND a.due_at < " + arg(v.now) + " THEN 0 ELSE 1 END"
	rows, err := s.db.R.QueryContext(ctx, "SELECT "+actionColumns+` FROM incident_action_items a
		JOIN incidents i ON i.id = a.incident_id WHERE `+where+" ORDER BY "+order+", a.due_at, a.id LIMIT "+arg(MaxActionItems), args...)
	items, err := db.Collect(rows, err, "list action items", scanActionItemRow)
	if err != nil {
		return nil, err
	}
	return items, s.revealActionItems(ctx, items)
}

// revealActionItems opens the items' text for a reader whose role may see
// PHI, auditing the read per incident before returning it (45 CFR
// 164.312(b)); anyone else gets it withheld.
func (s *Service) revealActionItems(ctx context.Context, items []ActionItem) error {
	if len(items) == 0 {
		return nil
	}
	now := s.clock.Now()
	for i := range items {
		items[i].Overdue = items[i].Status == ActionOpen && items[i].DueAt.Before(now)
	}
	actor, _ := authz.ActorFrom(ctx)
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		for i := range items {
			items[i].Title, items[i].TicketURL, items[i].TextRedacted = "", "", true
		}
		return nil
	}
	shown := map[string][]string{}
	for i := range items {
		if err := s.openActionItem(&items[i]); err != nil {
			return err
		}
		shown[items[i].IncidentID] = append(shown[items[i].IncidentID], "action_item:"+items[i].ID)
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		for _, id := range slices.Sorted(maps.Keys(shown)) {
			if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "incident.phi_read", ObjectType: "incident",
				ObjectID: id, Change: shown[id]}); err != nil {
				return err
			}
		}
		return nil
	})
}

package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// Restricted incidents are seen on a need-to-know basis: access limited to
// those whose work requires it (45 CFR 164.308(a)(4), information access
// management; 164.312(a)(1), access control; 164.502(b), minimum
// necessary). Break-glass grants are the emergency access procedure that
// 164.312(a)(2)(ii) requires.

// DefaultBreakGlassDuration is how long an emergency grant lasts unless the
// service is given another duration (WithBreakGlassDuration).
const DefaultBreakGlassDuration = 60 * time.Minute

// Limits of a break-glass reason, in characters.
const (
	MinBreakGlassReason = 20
	MaxBreakGlassReason = 2000
)

// VisibleSQL returns an SQL condition, over the incidents table under the
// name alias, that holds for the incidents actor may see at now; arg binds
// a value and returns its placeholder. Every incident that is not
// restricted is visible. A restricted one is visible to roles with
// incident:restricted; to a user who is one of its members or its
// commander (by username); and to a user or API token holding an
// unexpired, unrevoked break-glass grant for it. To anyone else it does not
// exist. Listing incidents and alerts filters with it, so rows the actor
// may not see are never read.
func VisibleSQL(actor authz.Actor, now time.Time, alias string, arg func(v any) string) string {
	if authz.Has(actor.Role, authz.IncidentRestricted) {
		return "1 = 1"
	}
	var or []string
	switch actor.Kind {
	case authz.KindUser:
		id := arg(actor.ID)
		or = append(or,
			alias+".commander = "+arg(actor.Name),
			"EXISTS (SELECT 1 FROM incident_members m WHERE m.incident_id = "+alias+".id AND m.user_id = "+id+")",
			grantSQL(alias, id, arg(now)))
	case authz.KindToken:
		or = append(or, grantSQL(alias, arg(actor.ID), arg(now)))
	}
	return "(NOT " + alias + ".restricted" + prefixed(" OR ", or) + ")"
}

func grantSQL(alias, holder, now string) string {
	return "EXISTS (SELECT 1 FROM break_glass_grants g WHERE g.incident_id = " + alias + ".id AND g.user_id = " + holder +
		" AND g.revoked_at IS NULL AND g.expires_at > " + now + ")"
}

func prefixed(sep string, parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return sep + strings.Join(parts, sep)
}

// viewer is who reads, and when: what VisibleSQL needs.
type viewer struct {
	actor authz.Actor
	now   time.Time
}

func (v viewer) cond(alias string, arg func(any) string) string {
	return VisibleSQL(v.actor, v.now, alias, arg)
}

func (s *Service) viewer(ctx context.Context) viewer {
	a, _ := authz.ActorFrom(ctx)
	return viewer{actor: a, now: s.clock.Now()}
}

// mayRestrict refuses to change an incident's restricted flag to anyone
// but roles with incident:restricted and the incident's creator.
func mayRestrict(ctx context.Context, inc *Incident) error {
	a, _ := authz.ActorFrom(ctx)
	if authz.Has(a.Role, authz.IncidentRestricted) || inc.CreatedBy == a.String() {
		return nil
	}
	return apperr.New(apperr.Forbidden, "restricted: only the incident's creator and roles with %s may change it",
		authz.IncidentRestricted)
}

// keepSight makes a user who restricts an incident without
// incident:restricted one of its members, so that it does not vanish from
// them; it returns the timeline change that records it, if any.
func (s *Service) keepSight(ctx context.Context, tx *sql.Tx, inc *Incident, now time.Time) ([]Change, error) {
	a, _ := authz.ActorFrom(ctx)
	if a.Kind != authz.KindUser || authz.Has(a.Role, authz.IncidentRestricted) {
		return nil, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO incident_members (incident_id, user_id, added_by, added_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id, user_id) DO NOTHING`, inc.ID, a.ID, a.String(), now)
	if err != nil {
		return nil, fmt.Errorf("add member: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil, err
	}
	return []Change{{Field: "member", New: a.Name}}, nil
}

// Member is a user named on an incident.
type Member struct {
	UserID      string
	Username    string
	DisplayName string
	AddedBy     string
	AddedAt     time.Time
}

// Members lists the incident's members by username.
func (s *Service) Members(ctx context.Context, ref string) ([]Member, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT m.user_id, u.username, u.display_name, m.added_by, m.added_at
		FROM incident_members m JOIN users u ON u.id = m.user_id WHERE m.incident_id = $1 ORDER BY u.username`, inc.ID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	defer rows.Close()
	out := []Member{}
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.UserID, &m.Username, &m.DisplayName, &m.AddedBy, &m.AddedAt); err != nil {
			return nil, fmt.Errorf("list members: %w", err)
		}
		m.AddedAt = m.AddedAt.UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// findUser returns the id and username of the user whose id or username
// is ref.
func findUser(ctx context.Context, q db.Querier, ref string) (id, username string, err error) {
	err = q.QueryRowContext(ctx, "SELECT id, username FROM users WHERE id = $1 OR username = $1", ref).Scan(&id, &username)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", apperr.Field("user", "no user %q", ref)
	}
	if err != nil {
		return "", "", fmt.Errorf("find user: %w", err)
	}
	return id, username, nil
}

// AddMember names a user (by id or username) on the incident, so that they
// may see it when it is restricted. The timeline and the audit trail
// record it.
func (s *Service) AddMember(ctx context.Context, ref, user string) (Member, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return Member{}, err
	}
	if err := checkText("user", user, 1, MaxName); err != nil {
		return Member{}, err
	}
	var m Member
	_, _, err = s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		id, name, err := findUser(ctx, tx, user)
		if err != nil {
			return Event{}, "", err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO incident_members (incident_id, user_id, added_by, added_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id, user_id) DO NOTHING`, inc.ID, id, actor.String(), now)
		if err != nil {
			return Event{}, "", fmt.Errorf("add member: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return Event{}, "", fmt.Errorf("add member: %w", err)
		} else if n == 0 {
			return Event{}, "", apperr.New(apperr.Conflict, "%s is already a member", name)
		}
		m = Member{UserID: id, Username: name, AddedBy: actor.String(), AddedAt: now}
		return Event{Kind: EventMemberAdded, FromStatus: inc.Status, ToStatus: inc.Status,
			Changes: []Change{{Field: "member", New: name}}}, "incident.member.add", nil
	})
	if err != nil {
		return Member{}, err
	}
	return m, nil
}

// RemoveMember takes a user (by id or username) off the incident. The
// timeline and the audit trail record it.
func (s *Service) RemoveMember(ctx context.Context, ref, user string) error {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return err
	}
	if err := checkText("user", user, 1, MaxName); err != nil {
		return err
	}
	_, _, err := s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, _ time.Time) (Event, string, error) {
		id, name, err := findUser(ctx, tx, user)
		if err != nil {
			return Event{}, "", err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM incident_members WHERE incident_id = $1 AND user_id = $2", inc.ID, id)
		if err != nil {
			return Event{}, "", fmt.Errorf("remove member: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return Event{}, "", fmt.Errorf("remove member: %w", err)
		} else if n == 0 {
			return Event{}, "", apperr.New(apperr.NotFound, "%s is not a member", name)
		}
		return Event{Kind: EventMemberRemoved, FromStatus: inc.Status, ToStatus: inc.Status,
			Changes: []Change{{Field: "member", Old: name}}}, "incident.member.remove", nil
	})
	return err
}

// Grant is emergency access to a restricted incident.
type Grant struct {
	ID             string
	IncidentID     string
	IncidentNumber string
	UserID         string // the user's or API token's id
	Actor          string // as the audit trail names the holder
	Reason         string
	GrantedAt      time.Time
	ExpiresAt      time.Time
	RevokedAt      *time.Time
}

// OfficerAlert is something the Security Officer must be told at once.
type OfficerAlert struct {
	ID             string
	Kind           string // OfficerAlertBreakGlass or OfficerAlertPagingFailed
	IncidentID     string
	IncidentNumber string
	UserID         string
	Actor          string
	Reason         string
	CreatedAt      time.Time
	AcknowledgedAt *time.Time
	AcknowledgedBy string
}

// The kinds of officer alert.
const (
	// OfficerAlertBreakGlass is raised by emergency access; its reason is
	// the one the person gave.
	OfficerAlertBreakGlass = "break_glass"
	// OfficerAlertPagingFailed is raised by paging when an incident's page
	// reached nobody or nobody acknowledged it; its reason is Ward's own
	// sentence, its actor Ward.
	OfficerAlertPagingFailed = "paging_failed"
)

// RaiseOfficerAlertTx records an officer alert of kind
// OfficerAlertPagingFailed about incident incidentID inside the caller's
// transaction, audited (officer_alert.raise); reason is Ward's own
// sentence, never PHI, sealed like every reason. Telling the officers on
// their contact methods is the caller's.
func (s *Service) RaiseOfficerAlertTx(ctx context.Context, tx *sql.Tx, incidentID, reason string) error {
	id, now := newID(), s.clock.Now()
	sealed, err := keys.OfficerAlertReason.SealText(s.keys, reason, id)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO officer_alerts
		(id, kind, incident_id, user_id, actor, reason, created_at) VALUES ($1, $2, $3, '', $4, $5, $6)`,
		id, OfficerAlertPagingFailed, incidentID, authz.System.String(), sealed, now); err != nil {
		return fmt.Errorf("insert officer alert: %w", err)
	}
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: "officer_alert.raise", ObjectType: "officer_alert", ObjectID: id,
		Change: map[string]any{"kind": OfficerAlertPagingFailed, "incident_id": incidentID}})
	return err
}

// BreakGlass grants the caller, a user or an API token that cannot see the
// restricted incident ref, emergency access to it at once, for the
// service's grant duration (45 CFR 164.312(a)(2)(ii), emergency access
// procedure). The reason must say why, in at least MinBreakGlassReason
// characters, and must hold no PHI: it is stored unencrypted. The grant is
// audited (incident.break_glass), put on the timeline (its note is the
// reason) and raised to the Security Officer as an officer alert and a
// structured warning in the log.
func (s *Service) BreakGlass(ctx context.Context, ref, reason string) (Grant, error) {
	actor, err := authz.Check(ctx, authz.BreakGlass)
	if err != nil {
		return Grant{}, err
	}
	if actor.Kind != authz.KindUser && actor.Kind != authz.KindToken {
		return Grant{}, apperr.New(apperr.Forbidden, "only a user or an API token can be granted emergency access")
	}
	if err := checkText("reason", reason, 1, MaxBreakGlassReason); err != nil {
		return Grant{}, err
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(reason)); n < MinBreakGlassReason {
		return Grant{}, apperr.Field("reason", "is %d characters long; say why emergency access is needed in at least %d",
			n, MinBreakGlassReason)
	}
	var g Grant
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := lockIncident(ctx, tx, ref); err != nil {
			return err
		}
		inc, err := getIncident(ctx, tx, ref, nil)
		if err != nil {
			return err
		}
		v := s.viewer(ctx)
		if _, err := getIncident(ctx, tx, ref, &v); err == nil {
			return apperr.New(apperr.Conflict, "you can already see %s; emergency access is not needed", inc.Number)
		} else if apperr.CodeOf(err) != apperr.NotFound {
			return err
		}
		_, _, err = s.changeTx(ctx, tx, inc.ID, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
			g = Grant{ID: newID(), IncidentID: inc.ID, IncidentNumber: inc.Number, UserID: actor.ID, Actor: actor.String(),
				Reason: reason, GrantedAt: now, ExpiresAt: now.Add(s.breakGlassFor)}
			// The reason is typed by a person in a hurry: sealed like any
			// free text (keys.BreakGlassReason, keys.OfficerAlertReason).
			sealed, err := keys.BreakGlassReason.SealText(s.keys, g.Reason, g.ID)
			if err != nil {
				return Event{}, "", err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO break_glass_grants
				(id, incident_id, user_id, actor, reason, granted_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				g.ID, g.IncidentID, g.UserID, g.Actor, sealed, g.GrantedAt, g.ExpiresAt); err != nil {
				return Event{}, "", fmt.Errorf("insert break-glass grant: %w", err)
			}
			alertID := newID()
			if sealed, err = keys.OfficerAlertReason.SealText(s.keys, g.Reason, alertID); err != nil {
				return Event{}, "", err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO officer_alerts
				(id, kind, incident_id, user_id, actor, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				alertID, OfficerAlertBreakGlass, g.IncidentID, g.UserID, g.Actor, sealed, now); err != nil {
				return Event{}, "", fmt.Errorf("insert officer alert: %w", err)
			}
			if s.officers != nil {
				if err := s.officers.NotifyOfficersTx(ctx, tx, g.IncidentID, g.Actor); err != nil {
					return Event{}, "", err
				}
			}
			return Event{Kind: EventBreakGlass, FromStatus: inc.Status, ToStatus: inc.Status, Note: reason,
				Changes: []Change{{Field: "grant", New: g.ID}, {Field: "expires_at", New: g.ExpiresAt}}}, "incident.break_glass", nil
		})
		return err
	})
	if err != nil {
		return Grant{}, err
	}
	// What officers must know at once; never the reason, which people
	// type, nor the title.
	s.log.WarnContext(ctx, "break_glass_access", "incident_id", g.IncidentID, "incident_number", g.IncidentNumber,
		"actor", g.Actor, "grant_id", g.ID, "expires_at", g.ExpiresAt, "request_id", authz.RequestFrom(ctx).ID)
	return g, nil
}

// MaxOfficerAlerts caps the officer alerts one call returns.
const MaxOfficerAlerts = 200

// OfficerAlerts lists officer alerts, newest first: only those nobody has
// acknowledged when open is true. It needs incident:restricted.
func (s *Service) OfficerAlerts(ctx context.Context, open bool) ([]OfficerAlert, error) {
	if _, err := authz.Check(ctx, authz.IncidentRestricted); err != nil {
		return nil, err
	}
	q := officerAlertSelect
	if open {
		q += " WHERE o.acknowledged_at IS NULL"
	}
	q += " ORDER BY o.created_at DESC, o.id DESC LIMIT $1"
	rows, err := s.db.R.QueryContext(ctx, q, MaxOfficerAlerts)
	if err != nil {
		return nil, fmt.Errorf("list officer alerts: %w", err)
	}
	defer rows.Close()
	out := []OfficerAlert{}
	for rows.Next() {
		a, err := scanOfficerAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list officer alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list officer alerts: %w", err)
	}
	incs := map[string]bool{}
	for i := range out {
		if out[i].Reason, err = s.open(out[i].Reason, keys.OfficerAlertReason, out[i].ID); err != nil {
			return nil, err
		}
		if out[i].Kind == OfficerAlertBreakGlass {
			incs[out[i].IncidentID] = true
		}
	}
	return out, s.auditReasons(ctx, slices.Sorted(maps.Keys(incs)))
}

// auditReasons records that the break-glass reasons of the incidents ids
// were read (45 CFR 164.312(b)); every role that may read them
// (incident:restricted) may also read PHI.
func (s *Service) auditReasons(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "incident.phi_read", ObjectType: "incident",
				ObjectID: id, Change: []string{"break_glass_reason"}}); err != nil {
				return err
			}
		}
		return nil
	})
}

const officerAlertSelect = `SELECT o.id, o.kind, o.incident_id, i.number, o.user_id, o.actor, o.reason, o.created_at,
	o.acknowledged_at, o.acknowledged_by FROM officer_alerts o JOIN incidents i ON i.id = o.incident_id`

func scanOfficerAlert(r scanner) (OfficerAlert, error) {
	var a OfficerAlert
	var ack sql.NullTime
	if err := r.Scan(&a.ID, &a.Kind, &a.IncidentID, &a.IncidentNumber, &a.UserID, &a.Actor, &a.Reason, &a.CreatedAt,
		&ack, &a.AcknowledgedBy); err != nil {
		return OfficerAlert{}, err
	}
	a.CreatedAt, a.AcknowledgedAt = a.CreatedAt.UTC(), timePtr(ack)
	return a, nil
}

// AcknowledgeOfficerAlert records that an officer has seen the alert id;
// the audit trail records who. Acknowledging it again changes nothing. It
// needs incident:restricted.
func (s *Service) AcknowledgeOfficerAlert(ctx context.Context, id string) (OfficerAlert, error) {
	actor, err := authz.Check(ctx, authz.RestrictedManage)
	if err != nil {
		return OfficerAlert{}, err
	}
	var a OfficerAlert
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanOfficerAlert(tx.QueryRowContext(ctx, officerAlertSelect+" WHERE o.id = $1", id))
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "no officer alert %q", id)
		}
		if err != nil {
			return fmt.Errorf("get officer alert: %w", err)
		}
		if a.AcknowledgedAt != nil {
			return nil
		}
		now := s.clock.Now()
		if _, err := tx.ExecContext(ctx, "UPDATE officer_alerts SET acknowledged_at = $1, acknowledged_by = $2 WHERE id = $3",
			now, actor.String(), id); err != nil {
			return fmt.Errorf("acknowledge officer alert: %w", err)
		}
		a.AcknowledgedAt, a.AcknowledgedBy, a.Reason = &now, actor.String(), ""
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "officer_alert.acknowledge", ObjectType: "officer_alert",
			ObjectID: id, Change: map[string]string{"incident_id": a.IncidentID}})
		return err
	})
	if err != nil {
		return OfficerAlert{}, err
	}
	return a, nil
}

// HiddenRestricted reports whether number is exactly the number of a
// restricted incident that the caller cannot see, so that the UI may offer
// emergency access to someone who typed it. It never matches by id or by
// part of a number, so lists and searches reveal nothing.
func (s *Service) HiddenRestricted(ctx context.Context, number string) (bool, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return false, err
	}
	args := []any{number}
	var n int
	err := s.db.R.QueryRowContext(ctx, "SELECT count(*) FROM incidents WHERE number = $1 AND restricted AND NOT "+
		s.viewer(ctx).cond("incidents", binder(&args)), args...).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("find restricted incident: %w", err)
	}
	return n > 0, nil
}

// BreakGlassDuration is how long an emergency grant lasts.
func (s *Service) BreakGlassDuration() time.Duration { return s.breakGlassFor }

// Grants lists the incident's break-glass grants, newest first, ended ones
// included. It needs incident:restricted.
func (s *Service) Grants(ctx context.Context, ref string) ([]Grant, error) {
	if _, err := authz.Check(ctx, authz.IncidentRestricted); err != nil {
		return nil, err
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, grantSelect+" WHERE g.incident_id = $1 ORDER BY g.granted_at DESC, g.id DESC", inc.ID)
	if err != nil {
		return nil, fmt.Errorf("list break-glass grants: %w", err)
	}
	defer rows.Close()
	out := []Grant{}
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("list break-glass grants: %w", err)
		}
		if g.Reason, err = s.open(g.Reason, keys.BreakGlassReason, g.ID); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list break-glass grants: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, s.auditReasons(ctx, []string{inc.ID})
}

const grantSelect = `SELECT g.id, g.incident_id, i.number, g.user_id, g.actor, g.reason, g.granted_at, g.expires_at, g.revoked_at
	FROM break_glass_grants g JOIN incidents i ON i.id = g.incident_id`

func scanGrant(r scanner) (Grant, error) {
	var g Grant
	var rev sql.NullTime
	if err := r.Scan(&g.ID, &g.IncidentID, &g.IncidentNumber, &g.UserID, &g.Actor, &g.Reason, &g.GrantedAt, &g.ExpiresAt,
		&rev); err != nil {
		return Grant{}, err
	}
	g.GrantedAt, g.ExpiresAt, g.RevokedAt = g.GrantedAt.UTC(), g.ExpiresAt.UTC(), timePtr(rev)
	return g, nil
}

// RevokeGrant ends a break-glass grant on the incident before it expires,
// once the emergency is over or the access was not justified. The timeline
// and the audit trail (incident.break_glass.revoke) record it. It needs
// incident:restricted.
func (s *Service) RevokeGrant(ctx context.Context, ref, grantID string) (Grant, error) {
	if _, err := authz.Check(ctx, authz.RestrictedManage); err != nil {
		return Grant{}, err
	}
	var g Grant
	_, _, err := s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		var err error
		g, err = scanGrant(tx.QueryRowContext(ctx, grantSelect+" WHERE g.incident_id = $1 AND g.id = $2", inc.ID, grantID))
		if errors.Is(err, sql.ErrNoRows) {
			return Event{}, "", apperr.New(apperr.NotFound, "no break-glass grant %q on %s", grantID, inc.Number)
		}
		if err != nil {
			return Event{}, "", fmt.Errorf("get break-glass grant: %w", err)
		}
		if g.RevokedAt != nil || !g.ExpiresAt.After(now) {
			return Event{}, "", apperr.New(apperr.Conflict, "the grant has already ended")
		}
		if _, err := tx.ExecContext(ctx, "UPDATE break_glass_grants SET revoked_at = $1 WHERE id = $2", now, g.ID); err != nil {
			return Event{}, "", fmt.Errorf("revoke break-glass grant: %w", err)
		}
		g.RevokedAt, g.Reason = &now, ""
		return Event{Kind: EventBreakGlassRevoked, FromStatus: inc.Status, ToStatus: inc.Status,
			Changes: []Change{{Field: "grant", Old: g.ID}, {Field: "holder", Old: g.Actor}}}, "incident.break_glass.revoke", nil
	})
	if err != nil {
		return Grant{}, err
	}
	return g, nil
}

// VisibleRef resolves incident ref (an id or number) to its id and number
// if the actor in ctx may see it at now (VisibleSQL); to anyone else it
// does not exist. Other services use it before acting on an incident.
func VisibleRef(ctx context.Context, q db.Querier, ref string, now time.Time) (id, number string, err error) {
	actor, _ := authz.ActorFrom(ctx)
	args := []any{ref}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	err = q.QueryRowContext(ctx, `SELECT i.id, i.number FROM incidents i WHERE i.`+RefColumn(ref)+` = $1 AND `+
		VisibleSQL(actor, now, "i", arg), args...).Scan(&id, &number)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", apperr.New(apperr.NotFound, "no incident %q", ref)
	}
	if err != nil {
		return "", "", fmt.Errorf("read incident: %w", err)
	}
	return id, number, nil
}

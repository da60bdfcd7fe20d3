package paging

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/oncall"
)

// A calendar feed is a secret address that a calendar application
// (Google Calendar, Outlook, Apple Calendar) fetches on-call shifts from
// without signing in: a random 256-bit token, found by its SHA-256 and
// kept sealed so that its owner can see the address again. It serves as
// its owner: a disabled owner, or one whose role may no longer read
// schedules, makes it answer as if it did not exist, and so does
// revoking it. The shifts hold names of schedules, rotations and people,
// never PHI.

// CalendarFeed is one calendar subscription address.
type CalendarFeed struct {
	ID string
	// Schedule is the name of the schedule whose every shift the feed
	// holds; empty for the owner's own shifts in every schedule.
	Schedule  string
	URL       string
	CreatedAt time.Time
}

// MaxCalendarFeeds is how many addresses one person may have at once.
const MaxCalendarFeeds = 20

// errFeed is the answer for an address that does not work, whatever the
// reason, so that it tells a guesser nothing.
var errFeed = apperr.New(apperr.NotFound, "this calendar address does not work: it was revoked, or never existed")

func (p *Pager) feedURL(token string) string { return p.opts.BaseURL + "/cal/" + token }

// CreateCalendarFeed makes a calendar address for the signed-in person:
// their own shifts in every schedule, or with scheduleRef (a schedule's
// name or id) everyone's shifts in that schedule.
func (p *Pager) CreateCalendarFeed(ctx context.Context, scheduleRef string) (CalendarFeed, error) {
	actor, err := authz.Check(ctx, authz.ContactSelf)
	if err != nil {
		return CalendarFeed{}, err
	}
	if actor.Kind != authz.KindUser {
		return CalendarFeed{}, apperr.New(apperr.Forbidden, "a calendar address belongs to a person signed in to Ward")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	now := p.clock.Now()
	f := CalendarFeed{ID: newID(), URL: p.feedURL(token), CreatedAt: now}
	sealed, err := keys.CalendarFeedToken.SealText(p.keys, token, f.ID)
	if err != nil {
		return CalendarFeed{}, err
	}
	err = p.db.Write(ctx, func(tx *sql.Tx) error {
		var scheduleID sql.NullString
		if scheduleRef != "" {
			s, err := getSchedule(ctx, tx, scheduleRef)
			if apperr.CodeOf(err) == apperr.NotFound {
				return apperr.Field("schedule", "no such schedule")
			}
			if err != nil {
				return err
			}
			scheduleID, f.Schedule = sql.NullString{String: s.ID, Valid: true}, s.Name
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM calendar_feeds WHERE user_id = $1 AND revoked_at IS NULL`,
			actor.ID).Scan(&n); err != nil {
			return fmt.Errorf("count calendar feeds: %w", err)
		}
		if n >= MaxCalendarFeeds {
			return apperr.New(apperr.Conflict, "you have %d calendar addresses, the most one person may have; revoke one first", n)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO calendar_feeds (id, user_id, schedule_id, token_hash, token, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, f.ID, actor.ID, scheduleID, hashToken(token), sealed, now); err != nil {
			return fmt.Errorf("insert calendar feed: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "calendar_feed.create", ObjectType: "user", ObjectID: actor.ID,
			Change: map[string]any{"calendar_feed_id": f.ID, "schedule_id": scheduleID.String}})
		return err
	})
	if err != nil {
		return CalendarFeed{}, err
	}
	return f, nil
}

// CalendarFeeds lists the signed-in person's calendar addresses that
// work, newest first.
func (p *Pager) CalendarFeeds(ctx context.Context) ([]CalendarFeed, error) {
	actor, err := authz.Check(ctx, authz.ContactSelf)
	if err != nil {
		return nil, err
	}
	rows, err := p.db.R.QueryContext(ctx, `SELECT f.id, COALESCE(s.name, ''), f.token, f.created_at FROM calendar_feeds f
		LEFT JOIN schedules s ON s.id = f.schedule_id
		WHERE f.user_id = $1 AND f.revoked_at IS NULL ORDER BY f.created_at DESC, f.id DESC`, actor.ID)
	return db.Collect(rows, err, "list calendar feeds", func(r *sql.Rows) (CalendarFeed, error) {
		var f CalendarFeed
		var sealed string
		if err := r.Scan(&f.ID, &f.Schedule, &sealed, &f.CreatedAt); err != nil {
			return f, err
		}
		token, err := keys.CalendarFeedToken.OpenText(p.keys, sealed, f.ID)
		if err != nil {
			return f, err
		}
		f.URL, f.CreatedAt = p.feedURL(token), f.CreatedAt.UTC()
		return f, nil
	})
}

// RevokeCalendarFeed stops the signed-in person's calendar address id
// from working.
func (p *Pager) RevokeCalendarFeed(ctx context.Context, id string) error {
	actor, err := authz.Check(ctx, authz.ContactSelf)
	if err != nil {
		return err
	}
	now := p.clock.Now()
	return p.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE calendar_feeds SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL`,
			now, id, actor.ID)
		if err != nil {
			return fmt.Errorf("revoke calendar feed: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return apperr.New(apperr.NotFound, "no such calendar address of yours")
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "calendar_feed.revoke", ObjectType: "user", ObjectID: actor.ID,
			Change: map[string]any{"calendar_feed_id": id}})
		return err
	})
}

// FeedCalendar is the iCalendar feed (RFC 5545) at the address holding
// token, 30 days back and 90 ahead, read as the address's owner.
func (p *Pager) FeedCalendar(ctx context.Context, token, uidDomain string) ([]byte, error) {
	var owner authz.Actor
	var disabled bool
	var scheduleID sql.NullString
	err := p.db.R.QueryRowContext(ctx, `SELECT u.id, u.username, u.role, u.disabled, f.schedule_id FROM calendar_feeds f
		JOIN users u ON u.id = f.user_id WHERE f.token_hash = $1 AND f.revoked_at IS NULL`, hashToken(token)).Scan(
		&owner.ID, &owner.Name, &owner.Role, &disabled, &scheduleID)
	if errors.Is(err, sql.ErrNoRows) || disabled || !authz.Has(owner.Role, authz.IncidentRead) {
		return nil, errFeed
	}
	if err != nil {
		return nil, fmt.Errorf("read calendar feed: %w", err)
	}
	owner.Kind = authz.KindUser
	ctx = authz.WithActor(ctx, owner)
	if !scheduleID.Valid {
		return p.UserCalendar(ctx, owner.ID, uidDomain)
	}
	return p.scheduleCalendar(ctx, scheduleID.String, uidDomain)
}

// scheduleCalendar is everyone's shifts in schedule id from 30 days ago
// to 90 days ahead, titled with who is on call.
func (p *Pager) scheduleCalendar(ctx context.Context, id, uidDomain string) ([]byte, error) {
	s, err := getSchedule(ctx, p.db.R, id)
	if err != nil {
		return nil, err
	}
	now := p.clock.Now()
	from, to := now.Add(-30*24*time.Hour), now.Add(90*24*time.Hour)
	m, err := resolved(ctx, p.db.R, s, from, to)
	if err != nil {
		return nil, err
	}
	shifts := m.Shifts(from, to)
	ids := make([]string, 0, len(shifts))
	for _, sh := range shifts {
		ids = append(ids, sh.User)
	}
	names, err := usernames(ctx, p.db.R, ids)
	if err != nil {
		return nil, err
	}
	return oncall.ScheduleICalendar("Ward on-call: "+s.Name, shifts, names, now, uidDomain), nil
}

// usernames maps each of the user ids to its username.
func usernames(ctx context.Context, q db.Querier, ids []string) (map[string]string, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	names := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return names, nil
	}
	marks, args := inList(ids)
	rows, err := q.QueryContext(ctx, `SELECT id, username FROM users WHERE id IN (`+marks+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read usernames: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		names[id] = name
	}
	return names, rows.Err()
}

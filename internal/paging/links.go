package paging

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/keys"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
)

// An acknowledge or resolve link in a page is a capability: a random
// 256-bit token, kept only as its SHA-256, for one page, one action and
// the one person it was sent to. It works once, until LinkTTL passes, and
// acts as that person, who must still hold incident:write.

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// linkRow is an action link to record.
type linkRow struct {
	hash, pageID, action, userID string
	expires                      time.Time
}

// newLink makes a link for action on page pageID sent to userID and
// returns its token and the row that records it (insertLinksTx).
func (p *Pager) newLink(pageID, userID, action string, now time.Time) (string, linkRow) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	return token, linkRow{hash: hashToken(token), pageID: pageID, action: action, userID: userID, expires: now.Add(p.opts.LinkTTL)}
}

// linksPerInsert caps the rows of one INSERT: five parameters each, well
// under SQLite's and PostgreSQL's limits on parameters.
const linksPerInsert = 64

// insertLinksTx records links, a statement per linksPerInsert rows rather
// than one per link: a delivery round makes two links per page message.
// Full chunks share one cached statement; the shorter last one is sent as
// it is, so the statement cache holds one text, not one per length.
func (p *Pager) insertLinksTx(ctx context.Context, tx *sql.Tx, links []linkRow) error {
	for len(links) > 0 {
		chunk := links[:min(len(links), linksPerInsert)]
		links = links[len(chunk):]
		var q strings.Builder
		q.WriteString(`INSERT INTO action_links (token_hash, page_id, action, user_id, expires_at) VALUES `)
		args := make([]any, 0, 5*len(chunk))
		for i, l := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			n := 5 * i
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
			args = append(args, l.hash, l.pageID, l.action, l.userID, l.expires)
		}
		var err error
		if len(chunk) == linksPerInsert {
			_, err = p.db.In(tx).ExecContext(ctx, q.String(), args...)
		} else {
			_, err = tx.ExecContext(ctx, q.String(), args...)
		}
		if err != nil {
			return fmt.Errorf("record action links: %w", err)
		}
	}
	return nil
}

// LinkInfo describes a link before it is used.
type LinkInfo struct {
	Action   string // acknowledge or resolve
	Incident string // the incident's number
	Username string // whom it was sent to
}

// errLink is what every unusable link answers, so a guesser learns nothing.
var errLink = apperr.New(apperr.NotFound, "this link is not valid: it may have been used already or have expired")

// PeekLink describes the link with token without using it.
func (p *Pager) PeekLink(ctx context.Context, token string) (LinkInfo, error) {
	var li LinkInfo
	err := p.db.R.QueryRowContext(ctx, `SELECT l.action, i.number, u.username FROM action_links l
		JOIN pages pg ON pg.id = l.page_id JOIN incidents i ON i.id = pg.incident_id JOIN users u ON u.id = l.user_id
		WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > $2`, hashToken(token), p.clock.Now()).Scan(
		&li.Action, &li.Incident, &li.Username)
	if errors.Is(err, sql.ErrNoRows) {
		return LinkInfo{}, errLink
	}
	if err != nil {
		return LinkInfo{}, fmt.Errorf("read action link: %w", err)
	}
	return li, nil
}

// UseLink acknowledges or resolves the page the link with token was sent
// for, as the person it was sent to, and spends the link.
func (p *Pager) UseLink(ctx context.Context, token string) (LinkInfo, error) {
	now := p.clock.Now()
	var li LinkInfo
	err := p.db.Write(ctx, func(tx *sql.Tx) error {
		var pageID, userID string
		err := tx.QueryRowContext(ctx, `UPDATE action_links SET used_at = $1
			WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING page_id, action, user_id`,
			now, hashToken(token)).Scan(&pageID, &li.Action, &userID)
		if errors.Is(err, sql.ErrNoRows) {
			return errLink
		}
		if err != nil {
			return fmt.Errorf("use action link: %w", err)
		}
		var role authz.Role
		var disabled bool
		if err := tx.QueryRowContext(ctx, `SELECT username, role, disabled FROM users WHERE id = $1`, userID).Scan(
			&li.Username, &role, &disabled); err != nil {
			return fmt.Errorf("read user: %w", err)
		}
		actor := authz.Actor{Kind: authz.KindUser, ID: userID, Name: li.Username, Role: role}
		if disabled || !authz.Has(role, authz.IncidentWrite) {
			return apperr.New(apperr.Forbidden, "%s may no longer change incidents", li.Username)
		}
		ctx := authz.WithActor(ctx, actor)
		pg, err := lockedPage(ctx, p.db, tx, "id", pageID)
		if err != nil {
			return fmt.Errorf("read page: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT number FROM incidents WHERE id = $1`, pg.IncidentID).Scan(&li.Incident); err != nil {
			return fmt.Errorf("read incident: %w", err)
		}
		return p.actTx(ctx, tx, &pg, li.Action, actor)
	})
	if err != nil {
		return LinkInfo{}, err
	}
	return li, nil
}

// SMS reply codes: a page by SMS carries a six-digit code; replying with
// it acknowledges, with an R after it resolves, with an E after it pages
// the escalation policy's next step at once. Each is an action link
// whose token is "sms:" and the reply, so it is single-use and expires
// like the links, and it works only from a phone number of the person it
// was sent to (UseSMSReply).

func smsToken(reply string) string { return "sms:" + reply }

// newSMSCodeTx records the acknowledge, resolve and escalate replies of a new code
// for page pageID sent to userID, and returns the code.
func (p *Pager) newSMSCodeTx(ctx context.Context, tx *sql.Tx, pageID, userID string, now time.Time) (string, error) {
	for range 5 {
		n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000))
		code := fmt.Sprintf("%06d", n.Int64())
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM action_links WHERE token_hash IN ($1, $2, $3)`,
			hashToken(smsToken(code)), hashToken(smsToken(code+"R")), hashToken(smsToken(code+"E"))).Scan(&taken); err != nil {
			return "", fmt.Errorf("check SMS code: %w", err)
		}
		if taken > 0 {
			continue
		}
		for _, l := range []struct{ reply, action string }{{code, actAcknowledge}, {code + "R", actResolve},
			{code + "E", actEscalate}} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO action_links (token_hash, page_id, action, user_id, expires_at)
				VALUES ($1, $2, $3, $4, $5)`, hashToken(smsToken(l.reply)), pageID, l.action, userID, now.Add(p.opts.LinkTTL)); err != nil {
				return "", fmt.Errorf("record SMS code: %w", err)
			}
		}
		return code, nil
	}
	return "", errors.New("no free SMS reply code after 5 tries")
}

// UseSMSReply acts on an SMS reply body ("482913" acknowledges,
// "482913R" resolves, "482913E" escalates) from the phone number from, which must be a
// verified SMS or voice contact method of the person the code was sent to.
// Anything else answers as an unusable link does.
func (p *Pager) UseSMSReply(ctx context.Context, from, body string) (LinkInfo, error) {
	reply := strings.ToUpper(strings.TrimSpace(body))
	if !smsReply.MatchString(reply) {
		return LinkInfo{}, errLink
	}
	var userID string
	err := p.db.R.QueryRowContext(ctx, `SELECT user_id FROM action_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`,
		hashToken(smsToken(reply)), p.clock.Now()).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return LinkInfo{}, errLink
	}
	if err != nil {
		return LinkInfo{}, fmt.Errorf("read SMS code: %w", err)
	}
	ok, err := p.hasPhone(ctx, userID, from)
	if err != nil {
		return LinkInfo{}, err
	}
	if !ok {
		return LinkInfo{}, errLink
	}
	return p.UseLink(ctx, smsToken(reply))
}

var smsReply = regexp.MustCompile(`^[0-9]{6}[RE]?$`)

// hasPhone reports whether number is a verified SMS or voice contact
// method of userID.
func (p *Pager) hasPhone(ctx context.Context, userID, number string) (bool, error) {
	rows, err := p.db.R.QueryContext(ctx, `SELECT id, address FROM contact_methods WHERE user_id = $1 AND kind IN ($2, $3)
		AND verified_at IS NOT NULL AND disabled_at IS NULL`, userID, ContactSMS, ContactVoice)
	if err != nil {
		return false, fmt.Errorf("read contact methods: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, sealed string
		if err := rows.Scan(&id, &sealed); err != nil {
			return false, err
		}
		plain, err := p.keys.Open(sealed, keys.ContactAddress.Table, keys.ContactAddress.Name, id)
		if err != nil {
			return false, err
		}
		var a sealedAddress
		if err := json.Unmarshal(plain, &a); err != nil {
			return false, err
		}
		if a.Address == number {
			return true, nil
		}
	}
	return false, rows.Err()
}

// pageLinkSet is what a page message lets its reader do: its acknowledge,
// resolve and escalate tokens and, by SMS, its reply code (messages sent
// before escalate links existed have none). It is kept sealed on
// the message's row (keys.NotificationLinks), so every attempt to send
// the message, on any node, carries the same ones: a receiver that sees
// a message twice sees the same message.
type pageLinkSet struct {
	Ack      string `json:"ack"`
	Resolve  string `json:"resolve"`
	Escalate string `json:"escalate,omitempty"`
	Code     string `json:"code,omitempty"`
}

// pageLinks returns the links of page message d, whose row holds sealed
// ("" before its first attempt): those it was sent with before, or new
// ones, recorded (r.links, the SMS code) and kept on its row (r.kept).
func (p *Pager) pageLinks(ctx context.Context, tx *sql.Tx, d *delivery, pageID, userID, sealed string, now time.Time,
	r *round) (pageLinkSet, error) {
	var pl pageLinkSet
	if sealed != "" {
		plain, err := p.keys.Open(sealed, keys.NotificationLinks.Table, keys.NotificationLinks.Name, d.id)
		if err != nil {
			return pl, err
		}
		if err := json.Unmarshal(plain, &pl); err != nil {
			return pl, fmt.Errorf("notification links: %w", err)
		}
		if d.channel != ContactSMS || pl.Code != "" {
			return pl, nil
		}
	} else {
		var ack, resolve, escalate linkRow
		pl.Ack, ack = p.newLink(pageID, userID, actAcknowledge, now)
		pl.Resolve, resolve = p.newLink(pageID, userID, actResolve, now)
		pl.Escalate, escalate = p.newLink(pageID, userID, actEscalate, now)
		r.links = append(r.links, ack, resolve, escalate)
	}
	if d.channel == ContactSMS {
		var err error
		if pl.Code, err = p.newSMSCodeTx(ctx, tx, pageID, userID, now); err != nil {
			return pl, err
		}
	}
	plain, err := json.Marshal(pl)
	if err != nil {
		return pl, err
	}
	s, err := p.keys.Seal(plain, keys.NotificationLinks.Table, keys.NotificationLinks.Name, d.id)
	if err != nil {
		return pl, err
	}
	r.kept = append(r.kept, keptLinks{id: d.id, sealed: s})
	return pl, nil
}

// keptLinks are a message's sealed links, to keep on its row.
type keptLinks struct{ id, sealed string }

// keepLinksTx stores kept on their messages' rows, a statement per
// linksPerInsert messages.
func (p *Pager) keepLinksTx(ctx context.Context, tx *sql.Tx, kept []keptLinks) error {
	for len(kept) > 0 {
		chunk := kept[:min(len(kept), linksPerInsert)]
		kept = kept[len(chunk):]
		var q strings.Builder
		q.WriteString(`UPDATE notifications SET links = CASE id`)
		args := make([]any, 0, 2*len(chunk))
		ids := make([]string, len(chunk))
		for i, k := range chunk {
			fmt.Fprintf(&q, " WHEN $%d THEN $%d", 2*i+1, 2*i+2)
			ids[i] = fmt.Sprintf("$%d", 2*i+1)
			args = append(args, k.id, k.sealed)
		}
		q.WriteString(" END WHERE id IN (" + strings.Join(ids, ", ") + ")")
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("keep notification links: %w", err)
		}
	}
	return nil
}

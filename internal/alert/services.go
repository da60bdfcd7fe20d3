package alert

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// Sealer encrypts a value bound to its table, column and row (package keys
// implements it). Alert details may hold PHI (45 CFR 164.312(a)(2)(iv)).
type Sealer interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
	// LookupHash is the keyed hash by which a sealed value is found by
	// equality (keys.Keyring.LookupHash).
	LookupHash(domain, scope, value string) string
}

// Intake manages services, integration keys and maintenance windows, and
// records alerts.
type Intake struct {
	db        *db.DB
	clock     clock.Clock
	keys      Sealer
	incidents *incident.Service
	queue     ingestQueue
	keyCache  keyCache
	pager     Pager
	watcher   Watcher
	// orchestrator provides the alert rules (SetOrchestrator).
	orchestrator Orchestrator
	// groupings is each service's grouping as intake last read it (by
	// service id), so that a batch reads its alert groups with its
	// first statements (writeIntegration).
	groupings sync.Map
}

// NewIntake returns an Intake that opens incidents through incidents.
func NewIntake(d *db.DB, c clock.Clock, keys Sealer, incidents *incident.Service) *Intake {
	return &Intake{db: d, clock: c, keys: keys, incidents: incidents}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// GroupBy says how a service's alerts group into incidents.
type GroupBy string

// The groupings.
const (
	// GroupBySource uses the monitoring tool's own grouping (an
	// Alertmanager or Grafana notification group is one incident) and
	// otherwise the dedup key.
	GroupBySource GroupBy = "source"
	// GroupByAlert opens one incident per dedup key.
	GroupByAlert GroupBy = "alert"
	// GroupByService keeps one open incident per service.
	GroupByService GroupBy = "service"
)

// Groupings lists every grouping.
var Groupings = []GroupBy{GroupBySource, GroupByAlert, GroupByService}

// Service is something monitored whose alerts open incidents.
type Service struct {
	ID          string
	Name        string
	Description string
	// HandlesPHI marks a service whose alerts may mean PHI is at risk: an
	// incident they open or join is marked phi_suspected, which starts the
	// breach workflow's questions (45 CFR 164.402).
	HandlesPHI bool
	GroupBy    GroupBy
	// EscalationPolicyID is the policy that pages people for the
	// service's incidents; empty: incidents open, nobody is paged.
	EscalationPolicyID string
	CreatedAt          time.Time
	UpdatedAt          time.Time
	Version            int64
}

// ServiceInput is a new service or the whole of an edited one.
type ServiceInput struct {
	Name        string
	Description string
	HandlesPHI  bool
	GroupBy     GroupBy // default source
	// EscalationPolicy is the id or name of the service's escalation
	// policy; empty for none.
	EscalationPolicy string
}

func (in *ServiceInput) validate() error {
	if in.GroupBy == "" {
		in.GroupBy = GroupBySource
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return apperr.Field("name", "is required")
	}
	if n := len([]rune(in.Name)); n > MaxName {
		return apperr.Field("name", "is %d characters long; the limit is %d", n, MaxName)
	}
	if n := len([]rune(in.Description)); n > MaxText {
		return apperr.Field("description", "is %d characters long; the limit is %d", n, MaxText)
	}
	if !slices.Contains(Groupings, in.GroupBy) {
		return apperr.Field("group_by", "%q is not one of source, alert, service", in.GroupBy)
	}
	return nil
}

const serviceColumns = "id, name, description, handles_phi, group_by, escalation_policy_id, created_at, updated_at, version"

// resolvePolicy turns in.EscalationPolicy (an id or a name) into an id.
func resolvePolicy(ctx context.Context, tx *sql.Tx, ref string) (sql.NullString, error) {
	if ref = strings.TrimSpace(ref); ref == "" {
		return sql.NullString{}, nil
	}
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM escalation_policies WHERE id = $1 OR name = $1`, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return sql.NullString{}, apperr.Field("escalation_policy", "no escalation policy %q", ref)
	}
	if err != nil {
		return sql.NullString{}, fmt.Errorf("read escalation policy: %w", err)
	}
	return sql.NullString{String: id, Valid: true}, nil
}

type scanner interface{ Scan(...any) error }

// scanFunc is a row's scan function as a scanner.
type scanFunc func(...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

func scanService(r scanner) (Service, error) {
	var s Service
	var policy sql.NullString
	err := r.Scan(&s.ID, &s.Name, &s.Description, &s.HandlesPHI, &s.GroupBy, &policy, &s.CreatedAt, &s.UpdatedAt, &s.Version)
	s.EscalationPolicyID = policy.String
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s, err
}

// CreateService records a new service.
func (s *Intake) CreateService(ctx context.Context, in ServiceInput) (Service, error) {
	var svc Service
	err := s.db.Write(ctx, func(tx *sql.Tx) (err error) {
		svc, err = SaveServiceTx(ctx, tx, s.clock.Now(), "", in)
		return err
	})
	return svc, err
}

// UpdateService replaces a service's settings.
func (s *Intake) UpdateService(ctx context.Context, id string, in ServiceInput) (Service, error) {
	var svc Service
	err := s.db.Write(ctx, func(tx *sql.Tx) (err error) {
		svc, err = SaveServiceTx(ctx, tx, s.clock.Now(), id, in)
		return err
	})
	return svc, err
}

// SaveServiceTx creates a service (ref empty) or replaces the service ref
// (id or name) in tx, with the same checks and audit entry as
// CreateService and UpdateService; configuration as code applies many
// changes in one transaction through it.
func SaveServiceTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string, in ServiceInput) (Service, error) {
	if _, err := authz.Check(ctx, authz.ServiceWrite); err != nil {
		return Service{}, err
	}
	if err := in.validate(); err != nil {
		return Service{}, err
	}
	policy, err := resolvePolicy(ctx, tx, in.EscalationPolicy)
	if err != nil {
		return Service{}, err
	}
	if ref == "" {
		svc := Service{ID: newID(), Name: in.Name, Description: in.Description, HandlesPHI: in.HandlesPHI,
			GroupBy: in.GroupBy, EscalationPolicyID: policy.String, CreatedAt: now, UpdatedAt: now, Version: 1}
		_, err = tx.ExecContext(ctx, `INSERT INTO services (`+serviceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			svc.ID, svc.Name, svc.Description, svc.HandlesPHI, svc.GroupBy, policy, svc.CreatedAt, svc.UpdatedAt, svc.Version)
		if db.IsUniqueViolation(err) {
			return Service{}, apperr.Field("name", "a service named %q exists already", svc.Name)
		}
		if err != nil {
			return Service{}, fmt.Errorf("insert service: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "service.create", ObjectType: "service", ObjectID: svc.ID, Change: svc})
		return svc, err
	}
	old, err := getService(ctx, tx, ref)
	if err != nil {
		return Service{}, err
	}
	out := old
	out.Name, out.Description, out.HandlesPHI, out.GroupBy = in.Name, in.Description, in.HandlesPHI, in.GroupBy
	out.EscalationPolicyID = policy.String
	out.UpdatedAt = now
	out.Version++
	_, err = tx.ExecContext(ctx, `UPDATE services SET name = $1, description = $2, handles_phi = $3, group_by = $4,
		escalation_policy_id = $5, updated_at = $6, version = $7 WHERE id = $8`,
		out.Name, out.Description, out.HandlesPHI, out.GroupBy, policy, out.UpdatedAt, out.Version, out.ID)
	if db.IsUniqueViolation(err) {
		return Service{}, apperr.Field("name", "a service named %q exists already", out.Name)
	}
	if err != nil {
		return Service{}, fmt.Errorf("update service: %w", err)
	}
	_, err = audit.Append(ctx, tx, out.UpdatedAt, audit.Event{Action: "service.update", ObjectType: "service",
		ObjectID: out.ID, Change: map[string]Service{"old": old, "new": out}})
	return out, err
}

// DeleteServiceTx deletes the service ref (id or name) in tx, audited. A
// service that anything still points to (integrations, alerts, incidents,
// an alert rule's route) is refused.
func DeleteServiceTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string) error {
	if _, err := authz.Check(ctx, authz.ServiceWrite); err != nil {
		return err
	}
	old, err := getService(ctx, tx, ref)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM services WHERE id = $1`, old.ID)
	if db.IsForeignKeyViolation(err) {
		return apperr.New(apperr.Conflict, "service %q has integrations, alerts or incidents, or an alert rule routes to it; it is kept", old.Name)
	}
	if err != nil {
		return fmt.Errorf("delete service %q: %w", old.Name, err)
	}
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: "service.delete", ObjectType: "service", ObjectID: old.ID,
		Change: map[string]any{"old": old}})
	return err
}

// getService reads the service with id, or else the one named id: intake,
// which always has the id, reads the service by its key alone.
func getService(ctx context.Context, q db.Querier, id string) (Service, error) {
	svc, err := scanService(q.QueryRowContext(ctx, `SELECT `+serviceColumns+` FROM services WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		svc, err = scanService(q.QueryRowContext(ctx, `SELECT `+serviceColumns+` FROM services WHERE name = $1`, id))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Service{}, apperr.New(apperr.NotFound, "no service %q", id)
	}
	if err != nil {
		return Service{}, fmt.Errorf("read service: %w", err)
	}
	return svc, nil
}

// GetService returns the service with the given id or name.
func (s *Intake) GetService(ctx context.Context, id string) (Service, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Service{}, err
	}
	return getService(ctx, s.db.R, id)
}

// Services lists every service by name.
func (s *Intake) Services(ctx context.Context) ([]Service, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+serviceColumns+` FROM services ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	defer rows.Close()
	out := []Service{}
	for rows.Next() {
		svc, err := scanService(rows)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		out = append(out, svc)
	}
	return out, rows.Err()
}

// Kind is the sort of monitoring tool an integration key is for; each
// kind has its own intake endpoint and payload format.
type Kind string

// The integration kinds.
const (
	KindEventsV2     Kind = "events_v2"    // PagerDuty Events API v2: POST /v2/enqueue
	KindAlertmanager Kind = "alertmanager" // Prometheus Alertmanager webhook
	KindGrafana      Kind = "grafana"      // Grafana alerting webhook contact point
	KindSNS          Kind = "sns"          // AWS CloudWatch alarms through SNS
	KindWebhook      Kind = "webhook"      // any JSON, mapped by JSON pointers
	KindHeartbeat    Kind = "heartbeat"    // a job pings /heartbeat/{key}; silence raises an alert
	KindEmail        Kind = "email"        // email to {key}@<--email-intake-domain>
)

// Kinds lists every integration kind.
var Kinds = []Kind{KindEventsV2, KindAlertmanager, KindGrafana, KindSNS, KindWebhook, KindHeartbeat, KindEmail}

// Integration is one integration key of a service. The key itself is shown
// once, when created; Ward keeps only its SHA-256.
type Integration struct {
	ID          string
	ServiceID   string
	ServiceName string
	Kind        Kind
	Name        string
	Hint        string // the key's last four characters
	// Mapping is the generic webhook's field mapping (see integration.Mapping).
	Mapping   json.RawMessage
	CreatedAt time.Time
	CreatedBy string
	RevokedAt *time.Time
	// Heartbeat is the monitor's state, for heartbeat integrations.
	Heartbeat *Heartbeat
}

// IntegrationInput is a new integration key.
type IntegrationInput struct {
	Kind    Kind
	Name    string
	Mapping json.RawMessage // webhook only; validated by the caller's MappingCheck
	// Interval is how often a heartbeat must be pinged (heartbeat only).
	Interval time.Duration
	// ShowTo is the id of the web session whose form created the key: the
	// key is then also kept, sealed, for TakeKeyToShow to show once on the
	// page the form redirects to. Empty when the caller shows the key
	// itself (an API answer).
	ShowTo string
}

// keyShownTTL is how long a new key waits for the page that shows it.
const keyShownTTL = 5 * time.Minute

// MappingCheck validates a generic webhook mapping (package integration
// provides it, so this package stays free of vendor formats).
type MappingCheck func(json.RawMessage) error

// hashKey is how integration keys are stored and looked up.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// newKey returns a fresh integration key: 32 hexadecimal characters (128
// bits), the shape of a PagerDuty routing key, so tools that check that
// shape accept it.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateIntegration makes a new integration key for a service and returns
// it with the key, which is never shown again.
func (s *Intake) CreateIntegration(ctx context.Context, serviceID string, in IntegrationInput, check MappingCheck) (Integration, string, error) {
	actor, err := authz.Check(ctx, authz.ServiceWrite)
	if err != nil {
		return Integration{}, "", err
	}
	if !slices.Contains(Kinds, in.Kind) {
		return Integration{}, "", apperr.Field("kind", "%q is not one of events_v2, alertmanager, grafana, sns, webhook, heartbeat, email", in.Kind)
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return Integration{}, "", apperr.Field("name", "is required")
	}
	if n := len([]rune(in.Name)); n > MaxName {
		return Integration{}, "", apperr.Field("name", "is %d characters long; the limit is %d", n, MaxName)
	}
	switch {
	case in.Kind == KindWebhook:
		if err := check(in.Mapping); err != nil {
			return Integration{}, "", err
		}
	case len(in.Mapping) > 0 && string(in.Mapping) != "null":
		return Integration{}, "", apperr.Field("mapping", "applies only to webhook integrations")
	default:
		in.Mapping = nil
	}
	if err := checkInterval(in.Kind, in.Interval); err != nil {
		return Integration{}, "", err
	}
	key := newKey()
	now := s.clock.Now()
	ig := Integration{ID: newID(), Kind: in.Kind, Name: in.Name, Hint: key[len(key)-4:], Mapping: in.Mapping,
		CreatedAt: now, CreatedBy: actor.String()}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		svc, err := getService(ctx, tx, serviceID)
		if err != nil {
			return err
		}
		ig.ServiceID, ig.ServiceName = svc.ID, svc.Name
		_, err = tx.ExecContext(ctx, `INSERT INTO integration_keys (id, service_id, kind, name, key_hash, hint, mapping,
			created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			ig.ID, ig.ServiceID, ig.Kind, ig.Name, hashKey(key), ig.Hint, string(ig.Mapping), ig.CreatedAt, ig.CreatedBy)
		if err != nil {
			return fmt.Errorf("insert integration key: %w", err)
		}
		if ig.Kind == KindHeartbeat {
			if ig.Heartbeat, err = insertHeartbeat(ctx, tx, ig.ID, in.Interval, now); err != nil {
				return err
			}
		}
		if in.ShowTo != "" {
			if err := s.keepKeyToShow(ctx, tx, ig.ID, in.ShowTo, key, now); err != nil {
				return err
			}
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "integration.create", ObjectType: "integration", ObjectID: ig.ID,
			Change: map[string]any{"service_id": ig.ServiceID, "kind": ig.Kind, "name": ig.Name, "hint": ig.Hint,
				"interval_seconds": int(in.Interval.Seconds())}})
		return err
	})
	if err != nil {
		return Integration{}, "", err
	}
	return ig, key, nil
}

// keepKeyToShow keeps a new key sealed beside the session that created
// it, and forgets every expired one.
func (s *Intake) keepKeyToShow(ctx context.Context, tx *sql.Tx, integrationID, sessionID, key string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM integration_keys_shown WHERE expires_at < $1", now); err != nil {
		return fmt.Errorf("integration key to show: forget expired: %w", err)
	}
	sealed, err := s.keys.Seal([]byte(key), keys.IntegrationKeyShown.Table, keys.IntegrationKeyShown.Name, integrationID)
	if err != nil {
		return fmt.Errorf("integration key to show: seal: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO integration_keys_shown (integration_id, session_id, key, expires_at) VALUES ($1, $2, $3, $4)",
		integrationID, sessionID, sealed, now.Add(keyShownTTL)); err != nil {
		return fmt.Errorf("integration key to show: keep: %w", err)
	}
	return nil
}

// TakeKeyToShow returns the key of a new integration that the session
// sessionID created (IntegrationInput.ShowTo), and forgets it: found is
// false on a second call, for another session, or more than 5 minutes
// after the key was made. The caller must hold service:write.
func (s *Intake) TakeKeyToShow(ctx context.Context, integrationID, sessionID string) (key string, found bool, err error) {
	if _, err := authz.Check(ctx, authz.ServiceWrite); err != nil {
		return "", false, err
	}
	var sealed string
	var expires time.Time
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "SELECT key, expires_at FROM integration_keys_shown WHERE integration_id = $1 AND session_id = $2",
			integrationID, sessionID).Scan(&sealed, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("integration key to show: get: %w", err)
		}
		found = true
		if _, err := tx.ExecContext(ctx, "DELETE FROM integration_keys_shown WHERE integration_id = $1", integrationID); err != nil {
			return fmt.Errorf("integration key to show: forget: %w", err)
		}
		return nil
	})
	if err != nil || !found || !s.clock.Now().Before(expires) {
		return "", false, err
	}
	plain, err := s.keys.Open(sealed, keys.IntegrationKeyShown.Table, keys.IntegrationKeyShown.Name, integrationID)
	if err != nil {
		return "", false, fmt.Errorf("integration key to show: open: %w", err)
	}
	return string(plain), true, nil
}

// RevokeIntegration stops an integration key working at once.
func (s *Intake) RevokeIntegration(ctx context.Context, id string) error {
	if _, err := authz.Check(ctx, authz.ServiceWrite); err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE integration_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, now, id)
		if err != nil {
			return fmt.Errorf("revoke integration key: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.NotFound, "no active integration key %q", id)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "integration.revoke", ObjectType: "integration", ObjectID: id})
		if err == nil {
			s.keyCache.forget(id)
		}
		return err
	})
}

const integrationColumns = `k.id, k.service_id, s.name, k.kind, k.name, k.hint, k.mapping, k.created_at, k.created_by, k.revoked_at`

func scanIntegration(r scanner) (Integration, error) {
	var ig Integration
	var mapping string
	var revoked sql.NullTime
	err := r.Scan(&ig.ID, &ig.ServiceID, &ig.ServiceName, &ig.Kind, &ig.Name, &ig.Hint, &mapping, &ig.CreatedAt, &ig.CreatedBy, &revoked)
	ig.CreatedAt = ig.CreatedAt.UTC()
	if mapping != "" {
		ig.Mapping = json.RawMessage(mapping)
	}
	if revoked.Valid {
		t := revoked.Time.UTC()
		ig.RevokedAt = &t
	}
	return ig, err
}

// Integrations lists a service's integration keys, revoked ones included.
func (s *Intake) Integrations(ctx context.Context, serviceID string) ([]Integration, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+integrationColumns+` FROM integration_keys k
		JOIN services s ON s.id = k.service_id WHERE s.id = $1 OR s.name = $1 ORDER BY k.created_at, k.id`, serviceID)
	if err != nil {
		return nil, fmt.Errorf("list integration keys: %w", err)
	}
	defer rows.Close()
	out := []Integration{}
	for rows.Next() {
		ig, err := scanIntegration(rows)
		if err != nil {
			return nil, fmt.Errorf("list integration keys: %w", err)
		}
		out = append(out, ig)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i := range out {
		if out[i].Kind == KindHeartbeat {
			if out[i].Heartbeat, err = getHeartbeat(ctx, s.db.R, out[i].ID); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ErrUnknownKey means an intake request's key matches no active
// integration key.
var ErrUnknownKey = errors.New("unknown or revoked integration key")

// Authenticate returns the active integration whose key is key.
//
// Answers are cached for keyCacheTTL so that a tool sending one event per
// request costs one key lookup a minute, not one per event; revocation
// still takes effect at once, because the write that records the events
// checks the key again (see writeIntegration).
func (s *Intake) Authenticate(ctx context.Context, key string) (Integration, error) {
	h := hashKey(key)
	now := s.clock.Now()
	if ig, ok := s.keyCache.get(h, now); ok {
		return ig, nil
	}
	ig, err := scanIntegration(s.db.R.QueryRowContext(ctx, `SELECT `+integrationColumns+` FROM integration_keys k
		JOIN services s ON s.id = k.service_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL`, h))
	if errors.Is(err, sql.ErrNoRows) {
		return Integration{}, ErrUnknownKey
	}
	if err != nil {
		return Integration{}, fmt.Errorf("look up integration key: %w", err)
	}
	s.keyCache.put(h, ig, now)
	return ig, nil
}

// keyCacheTTL is how long Authenticate trusts a key it has looked up.
const keyCacheTTL = time.Minute

// keyCacheMax bounds the cache; when full it starts afresh.
const keyCacheMax = 10_000

// keyCache remembers integrations by key hash.
type keyCache struct {
	mu sync.Mutex
	m  map[string]cachedKey
}

type cachedKey struct {
	ig      Integration
	expires time.Time
}

func (c *keyCache) get(hash string, now time.Time) (Integration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if !ok || !now.Before(e.expires) {
		return Integration{}, false
	}
	return e.ig, true
}

func (c *keyCache) put(hash string, ig Integration, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= keyCacheMax {
		c.m = map[string]cachedKey{}
	}
	c.m[hash] = cachedKey{ig: ig, expires: now.Add(keyCacheTTL)}
}

// forget drops integration id from the cache.
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.m {
		if e.ig.ID == id {
			delete(c.m, h)
		}
	}
}

// Actor is who an integration acts as: the monitoring tool, named by its
// service and key, with the responder role (it may open incidents).
func (ig Integration) Actor() authz.Actor {
	return authz.Actor{Kind: authz.KindIntegration, ID: ig.ID, Name: ig.ServiceName + "/" + ig.Name, Role: authz.RoleResponder}
}

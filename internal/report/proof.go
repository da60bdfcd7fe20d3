package report

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// A proof bundle (164.414(b): the covered entity bears the burden of
// showing every notice was made) is a zip archive: the files the
// producers make, manifest.json listing each with its SHA-256, and
// manifest.sig, the Ed25519 signature of manifest.json, whose public key
// the manifest carries. VerifyBundle checks it offline; the verify API
// also says whether the key is this Ward's.

// BundleFormat names the bundle layout in its manifest.
const BundleFormat = "ward-proof-bundle/1"

// ExportFormat names the layout of an incident's evidence export (package
// evidence): the same manifest and signature, with the items' content,
// metadata and chain of custody as its files.
const ExportFormat = "ward-evidence-export/1"

// The archive's own files.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
)

// File is one file of a proof bundle.
type File struct {
	Name string // a relative path with / separators, e.g. "obligations.json"
	Body []byte
}

// Producer makes some of the files of a case's proof bundle, reading as
// the actor in ctx. The files must hold no individual's PHI (counts
// only). Add one with AddProducer: the notices and their delivery
// evidence are meant to come that way from package notice.
type Producer func(ctx context.Context, c breach.Case) ([]File, error)

// AddProducer appends p to the producers of every bundle made after.
func (s *Service) AddProducer(p Producer) { s.producers = append(s.producers, p) }

// allProducers are the producers of this package, then those added.
func (s *Service) allProducers() []Producer {
	return append([]Producer{s.caseFiles, s.reportFiles, s.auditFiles}, s.producers...)
}

func jsonFile(name string, v any) (File, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", name, err)
	}
	return File{Name: name, Body: append(b, '\n')}, nil
}

// caseFiles: the case and its facts, every determination version, the
// obligations with when each was met, and the individuals' counts.
func (s *Service) caseFiles(ctx context.Context, c breach.Case) ([]File, error) {
	dets, err := s.cases.Determinations(ctx, c.IncidentID)
	if err != nil {
		return nil, err
	}
	obs, err := s.cases.Obligations(ctx, c.IncidentID)
	if err != nil {
		return nil, err
	}
	counts, err := s.cases.IndividualCounts(ctx, c.IncidentID)
	if err != nil {
		return nil, err
	}
	type caseOut struct {
		ID             string      `json:"id"`
		IncidentID     string      `json:"incident_id"`
		IncidentNumber string      `json:"incident_number"`
		Facts          rules.Facts `json:"facts"`
		Outcome        string      `json:"outcome"`
		OpenedBy       string      `json:"opened_by"`
		CreatedAt      time.Time   `json:"created_at"`
		UpdatedAt      time.Time   `json:"updated_at"`
		Version        int64       `json:"version"`
	}
	type determinationOut struct {
		Version       int                 `json:"version"`
		Determination rules.Determination `json:"determination"`
		Result        rules.Result        `json:"result"`
		Reason        string              `json:"reason,omitempty"`
		SignedBy      string              `json:"signed_by"`
		SignedAt      time.Time           `json:"signed_at"`
	}
	type obligationOut struct {
		rules.Obligation
		State     string     `json:"state"`
		MetAt     *time.Time `json:"met_at,omitempty"`
		MetBy     string     `json:"met_by,omitempty"`
		MetReason string     `json:"met_reason,omitempty"`
		TimeZone  string     `json:"time_zone"` // the organisation's, its days were counted in
	}
	co := caseOut{ID: c.ID, IncidentID: c.IncidentID, IncidentNumber: c.IncidentNumber, Facts: c.Facts, Outcome: c.Outcome,
		OpenedBy: c.OpenedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version}
	ds := make([]determinationOut, len(dets))
	for i, d := range dets {
		ds[i] = determinationOut{Version: d.Version, Determination: d.Body, Result: d.Result, Reason: d.Reason, SignedBy: d.SignedBy,
			SignedAt: d.SignedAt}
	}
	obsOut := make([]obligationOut, len(obs))
	for i, o := range obs {
		obsOut[i] = obligationOut{Obligation: o.Obligation, State: o.State, MetAt: o.MetAt, MetBy: o.MetBy, MetReason: o.MetReason,
			TimeZone: o.Zone.String()}
	}
	var out []File
	for _, f := range []struct {
		name string
		v    any
	}{{"case.json", co}, {"determinations.json", ds}, {"obligations.json", obsOut}, {"individuals_counts.json", counts}} {
		file, err := jsonFile(f.name, f.v)
		if err != nil {
			return nil, err
		}
		out = append(out, file)
	}
	return out, nil
}

// reportFiles: the HHS report details, every filing and the reminders
// sent.
func (s *Service) reportFiles(ctx context.Context, c breach.Case) ([]File, error) {
	d, err := s.details(ctx, s.db.R, c.ID)
	if err != nil {
		return nil, err
	}
	filings, err := s.filings(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	rem, err := s.remindersOf(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	var out []File
	for _, f := range []struct {
		name string
		v    any
	}{{"hhs/details.json", d}, {"hhs/filings.json", filings}, {"reminders.json", rem}} {
		file, err := jsonFile(f.name, f.v)
		if err != nil {
			return nil, err
		}
		out = append(out, file)
	}
	return out, nil
}

// auditFiles: the audit trail's entries about the case's incident, oldest
// first; each carries its hash and the previous one, so the slice can be
// checked against the whole trail (`ward audit verify`).
func (s *Service) auditFiles(ctx context.Context, c breach.Case) ([]File, error) {
	var all []audit.Entry
	var before int64
	for {
		page, err := audit.List(ctx, s.db.R, audit.Filter{ObjectID: c.IncidentID, BeforeSeq: before, Limit: audit.MaxList})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < audit.MaxList {
			break
		}
		before = page[len(page)-1].Seq
	}
	slices.Reverse(all)
	f, err := jsonFile("audit_trail.json", all)
	return []File{f}, err
}

// Manifest lists a bundle's files with their digests, and the key that
// signed it.
type Manifest struct {
	Format         string         `json:"format"`
	IncidentNumber string         `json:"incident_number"`
	CaseID         string         `json:"case_id,omitempty"`
	GeneratedAt    time.Time      `json:"generated_at"`
	GeneratedBy    string         `json:"generated_by"`
	KeyID          string         `json:"key_id"`
	PublicKey      string         `json:"public_key" doc:"Ed25519, base64."`
	Files          []ManifestFile `json:"files"`
}

// ManifestFile is one file of a bundle.
type ManifestFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Sealer seals and opens the signing key's private half (package keys'
// Keyring).
type Sealer interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
}

// signingKey returns the Ed25519 key that signs bundles, making one the
// first time; its private half is kept sealed with the keyring.
func (s *Service) signingKey(ctx context.Context) (string, ed25519.PrivateKey, error) {
	if s.keys == nil {
		return "", nil, errors.New("report: no keyring to seal the signing key with")
	}
	return signingKey(ctx, s.db, s.clock, s.keys)
}

func signingKey(ctx context.Context, d *db.DB, c clock.Clock, k Sealer) (string, ed25519.PrivateKey, error) {
	var id, pub, sealed string
	err := d.R.QueryRowContext(ctx, `SELECT id, public_key, private_key FROM report_signing_keys ORDER BY created_at, id LIMIT 1`).
		Scan(&id, &pub, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return newSigningKey(ctx, d, c, k)
	}
	if err != nil {
		return "", nil, fmt.Errorf("read signing key: %w", err)
	}
	seed, err := k.Open(sealed, keys.ReportSigningKey.Table, keys.ReportSigningKey.Name, id)
	if err != nil {
		return "", nil, fmt.Errorf("open signing key %s: %w", id, err)
	}
	if len(seed) != ed25519.SeedSize {
		return "", nil, fmt.Errorf("signing key %s: bad seed", id)
	}
	return id, ed25519.NewKeyFromSeed(seed), nil
}

func keyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519-" + hex.EncodeToString(sum[:8])
}

func newSigningKey(ctx context.Context, d *db.DB, c clock.Clock, k Sealer) (string, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	id := keyID(pub)
	sealed, err := k.Seal(priv.Seed(), keys.ReportSigningKey.Table, keys.ReportSigningKey.Name, id)
	if err != nil {
		return "", nil, fmt.Errorf("seal signing key: %w", err)
	}
	now := c.Now()
	err = d.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_signing_keys (id, public_key, private_key, created_at) VALUES ($1, $2, $3, $4)`,
			id, base64.StdEncoding.EncodeToString(pub), sealed, now); err != nil {
			return fmt.Errorf("save signing key: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "report.signing_key", ObjectType: "report_signing_key", ObjectID: id,
			Change: map[string]any{"public_key": base64.StdEncoding.EncodeToString(pub)}})
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return id, priv, nil
}

// Signer signs the manifest of an archive made outside this package (an
// evidence export) with the key that signs proof bundles, so that
// VerifyArchive checks both the same way.
type Signer struct {
	priv ed25519.PrivateKey
}

// NewSigner returns the signer of this Ward's bundle-signing key, making
// the key the first time (audited, report.signing_key). The caller checks
// its own permission.
func NewSigner(ctx context.Context, d *db.DB, c clock.Clock, k Sealer) (Signer, error) {
	_, priv, err := signingKey(ctx, d, c, k)
	return Signer{priv: priv}, err
}

// Stamp fills m's key id and public key.
func (s Signer) Stamp(m *Manifest) {
	pub := s.priv.Public().(ed25519.PublicKey)
	m.KeyID, m.PublicKey = keyID(pub), base64.StdEncoding.EncodeToString(pub)
}

// Sign returns the content of manifest.sig for manifest: its Ed25519
// signature, base64, and a line break.
func (s Signer) Sign(manifest []byte) []byte {
	return []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, manifest)) + "\n")
}

// SigningKey is a key that signs proof bundles.
type SigningKey struct {
	ID        string    `json:"id"`
	PublicKey string    `json:"public_key" doc:"Ed25519, base64."`
	CreatedAt time.Time `json:"created_at"`
}

// SigningKeys lists this Ward's bundle-signing public keys.
func (s *Service) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	if _, err := authz.Check(ctx, authz.ReportRead); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, public_key, created_at FROM report_signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	defer rows.Close()
	out := []SigningKey{}
	for rows.Next() {
		var k SigningKey
		if err := rows.Scan(&k.ID, &k.PublicKey, &k.CreatedAt); err != nil {
			return nil, err
		}
		k.CreatedAt = k.CreatedAt.UTC()
		out = append(out, k)
	}
	return out, rows.Err()
}

// Bundle makes the signed proof bundle of incident ref's case and audits
// its download; it returns the zip archive and its manifest.
func (s *Service) Bundle(ctx context.Context, ref string) ([]byte, Manifest, error) {
	actor, err := authz.Check(ctx, authz.ReportRead)
	if err != nil {
		return nil, Manifest{}, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, Manifest{}, err
	}
	var files []File
	for _, p := range s.allProducers() {
		fs, err := p(ctx, c)
		if err != nil {
			return nil, Manifest{}, err
		}
		files = append(files, fs...)
	}
	id, priv, err := s.signingKey(ctx)
	if err != nil {
		return nil, Manifest{}, err
	}
	now := s.clock.Now()
	m := Manifest{Format: BundleFormat, IncidentNumber: c.IncidentNumber, CaseID: c.ID, GeneratedAt: now, GeneratedBy: actor.String()}
	archive, digest, err := sealBundle(files, m, priv)
	if err != nil {
		return nil, Manifest{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "report.proof_bundle", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "manifest_sha256": hex.EncodeToString(digest[:]), "key_id": id, "files": len(files)}})
		return err
	})
	if err != nil {
		return nil, Manifest{}, err
	}
	return archive, m, nil
}

// sealBundle lists files in m with their digests, signs the manifest with
// priv and zips them; it returns the archive and the manifest's SHA-256.
func sealBundle(files []File, m Manifest, priv ed25519.PrivateKey) ([]byte, [32]byte, error) {
	pub := priv.Public().(ed25519.PublicKey)
	m.KeyID, m.PublicKey = keyID(pub), base64.StdEncoding.EncodeToString(pub)
	seen := map[string]bool{ManifestName: true, SignatureName: true}
	for _, f := range files {
		if seen[f.Name] || !ValidName(f.Name) {
			return nil, [32]byte{}, fmt.Errorf("proof bundle: file name %q is taken or invalid", f.Name)
		}
		seen[f.Name] = true
		sum := sha256.Sum256(f.Body)
		m.Files = append(m.Files, ManifestFile{Name: f.Name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(f.Body))})
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, [32]byte{}, err
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, manifest))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, body []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: m.GeneratedAt})
		if err != nil {
			return err
		}
		_, err = w.Write(body)
		return err
	}
	for _, f := range files {
		if err := add(f.Name, f.Body); err != nil {
			return nil, [32]byte{}, err
		}
	}
	if err := errors.Join(add(ManifestName, manifest), add(SignatureName, []byte(sig+"\n")), zw.Close()); err != nil {
		return nil, [32]byte{}, fmt.Errorf("proof bundle: %w", err)
	}
	return buf.Bytes(), sha256.Sum256(manifest), nil
}

// ValidName reports whether name may be a file of an archive: a relative
// path, clean, not leaving the archive.
func ValidName(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && path.Clean(name) == name && !strings.HasPrefix(name, "../") && name != ".."
}

// Verification is what VerifyBundle found.
type Verification struct {
	Valid          bool     `json:"valid" doc:"The signature holds and every file matches the manifest."`
	Format         string   `json:"format,omitempty" doc:"ward-proof-bundle/1, or ward-evidence-export/1 for an incident's evidence export."`
	Trusted        bool     `json:"trusted" doc:"The signing key is one of this Ward's (set by the API only)."`
	KeyID          string   `json:"key_id,omitempty"`
	PublicKey      string   `json:"public_key,omitempty" doc:"The Ed25519 key the manifest names, base64."`
	IncidentNumber string   `json:"incident_number,omitempty"`
	CaseID         string   `json:"case_id,omitempty"`
	GeneratedAt    string   `json:"generated_at,omitempty"`
	Files          int      `json:"files"`
	Problems       []string `json:"problems" doc:"Each thing that fails: a bad signature, a changed, missing or extra file."`
}

// MaxBundle caps the size of a bundle the API's verification reads.
const MaxBundle = 256 << 20

// maxManifest caps the manifest and signature VerifyArchive reads whole.
const maxManifest = 64 << 20

// VerifyBundle is VerifyArchive of an archive held in memory.
func VerifyBundle(archive []byte) Verification {
	return VerifyArchive(bytes.NewReader(archive), int64(len(archive)))
}

// VerifyArchive checks a proof bundle or an evidence export offline, with
// nothing but the archive: the manifest's signature under the public key
// it carries, each file's SHA-256 and size (streamed, so an export of
// many gigabytes is checked in little memory), and that no file is
// missing or added. Each problem names its file. It says whom to trust
// (KeyID): compare with `GET /api/v1/breach-reports/signing-keys`.
func VerifyArchive(r io.ReaderAt, size int64) Verification {
	v := Verification{Problems: []string{}}
	bad := func(format string, args ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, args...)) }
	zr, err := zip.NewReader(r, size)
	if err != nil {
		bad("not a zip archive: %v", err)
		return v
	}
	type got struct {
		sum  string
		size int64
	}
	files := map[string]got{}
	var manifest, sigText []byte
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			bad("%s is in the archive twice", f.Name)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			bad("%s: %v", f.Name, err)
			continue
		}
		h := sha256.New()
		var keep bytes.Buffer
		w, src := io.Writer(h), io.Reader(rc)
		if f.Name == ManifestName || f.Name == SignatureName {
			w, src = io.MultiWriter(h, &keep), io.LimitReader(rc, maxManifest+1)
		}
		n, err := io.Copy(w, src)
		rc.Close()
		if err != nil {
			bad("%s: %v", f.Name, err)
			continue
		}
		files[f.Name] = got{sum: hex.EncodeToString(h.Sum(nil)), size: n}
		switch f.Name {
		case ManifestName:
			manifest = keep.Bytes()
		case SignatureName:
			sigText = keep.Bytes()
		}
		if (f.Name == ManifestName || f.Name == SignatureName) && n > maxManifest {
			bad("%s is larger than %d bytes", f.Name, maxManifest)
			return v
		}
	}
	if manifest == nil || sigText == nil {
		bad("the archive lacks %s or %s", ManifestName, SignatureName)
		return v
	}
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		bad("%s: %v", ManifestName, err)
		return v
	}
	v.Format, v.KeyID, v.PublicKey, v.IncidentNumber, v.CaseID, v.GeneratedAt, v.Files = m.Format, m.KeyID, m.PublicKey, m.IncidentNumber, m.CaseID, m.GeneratedAt.UTC().Format(time.RFC3339), len(m.Files)
	if m.Format != BundleFormat && m.Format != ExportFormat {
		bad("format %q is neither %q nor %q", m.Format, BundleFormat, ExportFormat)
	}
	pub, err := base64.StdEncoding.DecodeString(m.PublicKey)
	sig, err2 := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigText)))
	switch {
	case err != nil || len(pub) != ed25519.PublicKeySize:
		bad("the manifest's public key is not an Ed25519 key")
	case err2 != nil || !ed25519.Verify(pub, manifest, sig):
		bad("the signature does not match %s: the manifest was changed, or signed by another key", ManifestName)
	case keyID(pub) != m.KeyID:
		bad("key id %s does not name the public key", m.KeyID)
	}
	listed := map[string]bool{ManifestName: true, SignatureName: true}
	for _, f := range m.Files {
		listed[f.Name] = true
		g, ok := files[f.Name]
		if !ok {
			bad("%s is listed but missing", f.Name)
			continue
		}
		if g.sum != f.SHA256 || g.size != f.Size {
			bad("%s does not match its SHA-256 in the manifest", f.Name)
		}
	}
	for name := range files {
		if !listed[name] {
			bad("%s is in the archive but not in the manifest", name)
		}
	}
	slices.Sort(v.Problems)
	v.Valid = len(v.Problems) == 0
	return v
}

// Verify is VerifyBundle, and whether the signing key is this Ward's.
func (s *Service) Verify(ctx context.Context, archive []byte) (Verification, error) {
	if _, err := authz.Check(ctx, authz.ReportRead); err != nil {
		return Verification{}, err
	}
	if len(archive) == 0 {
		return Verification{}, apperr.Field("body", "send the bundle (application/zip)")
	}
	v := VerifyBundle(archive)
	if v.KeyID != "" {
		var pub string
		err := s.db.R.QueryRowContext(ctx, `SELECT public_key FROM report_signing_keys WHERE id = $1`, v.KeyID).Scan(&pub)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Verification{}, fmt.Errorf("read signing key: %w", err)
		}
		v.Trusted = v.Valid && err == nil && pub == v.PublicKey
	}
	return v, nil
}

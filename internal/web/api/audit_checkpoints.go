package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// CheckpointKey is the public key that signs audit checkpoints.
type CheckpointKey struct {
	KeyID        string `json:"key_id" doc:"The key id each checkpoint names in key_id."`
	Algorithm    string `json:"algorithm" enum:"Ed25519"`
	PublicKeyPEM string `json:"public_key_pem" doc:"The public key as a PEM PUBLIC KEY block: save it and give it to ward audit verify --public-key."`
}

type checkpointsQuery struct {
	AfterSeq int64 `query:"after_seq" minimum:"0" doc:"Only checkpoints of entries after this one: next_after_seq of the previous page."`
	Limit    int   `query:"limit" minimum:"1" maximum:"10000" default:"1000"`
}

func (h handler) registerAuditCheckpoints(api huma.API) {
	const tag = "audit"
	huma.Register(api, tagged(op("list-audit-checkpoints", http.MethodGet, "/audit/checkpoints",
		"Signed audit checkpoints, oldest first, for an auditor to pin and check with ward audit verify --checkpoints",
		http.StatusOK, authz.AuditRead), tag),
		func(ctx context.Context, in *checkpointsQuery) (*struct{ Body audit.CheckpointPage }, error) {
			if h.Checkpoints == nil {
				return nil, huma.Error404NotFound("audit checkpoints are not kept by this server")
			}
			cps, err := h.Checkpoints.ListCheckpoints(ctx, in.AfterSeq, in.Limit)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			page := audit.CheckpointPage{Checkpoints: cps}
			if len(cps) == in.Limit {
				page.NextAfterSeq = cps[len(cps)-1].Seq
			}
			return &struct{ Body audit.CheckpointPage }{page}, nil
		})
	huma.Register(api, tagged(op("get-audit-checkpoint-key", http.MethodGet, "/audit/checkpoint-key",
		"The public key audit checkpoints are signed with", http.StatusOK, authz.AuditRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body CheckpointKey }, error) {
			if h.Checkpoints == nil {
				return nil, huma.Error404NotFound("audit checkpoints are not kept by this server")
			}
			k := h.Checkpoints.Key()
			return &struct{ Body CheckpointKey }{CheckpointKey{KeyID: k.ID(), Algorithm: "Ed25519", PublicKeyPEM: k.PublicPEM()}}, nil
		})
}

// SegmentList is the answer to GET /api/v1/audit/segments.
type SegmentList struct {
	Segments []audit.SegmentStatus `json:"segments" doc:"Each segment after the first, oldest first, with the break its first entry records and the officer's review of that break (absent until reviewed). Empty while the chain was never found broken."`
}

type reviewBreakInput struct {
	Segment int64 `path:"segment" minimum:"2" doc:"The number of the segment whose first entry records the break."`
	Body    struct {
		Incident string `json:"incident" minLength:"1" maxLength:"100" doc:"The number (or id) of the security incident that investigates the break."`
	}
}

func (h handler) registerAuditSegments(api huma.API) {
	huma.Register(api, tagged(op("list-audit-segments", http.MethodGet, "/audit/segments",
		"The audit chain's segments: each was started when Ward found the chain broken, and records where and how",
		http.StatusOK, authz.AuditRead), "audit"),
		func(ctx context.Context, _ *struct{}) (*struct{ Body SegmentList }, error) {
			segs, err := h.Audit.SegmentsReviewed(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return &struct{ Body SegmentList }{SegmentList{segs}}, nil
		})
	huma.Register(api, tagged(op("review-audit-break", http.MethodPost, "/audit/segments/{segment}/review",
		"Record that a Security or Privacy Officer reviewed a break of the audit chain, naming the incident that investigates it "+
			"(audited; once per break). The retention purge waits until every recorded break is reviewed",
		http.StatusOK, authz.RestrictedManage), "audit"),
		func(ctx context.Context, in *reviewBreakInput) (*struct{ Body audit.SegmentStatus }, error) {
			s, err := h.Audit.ReviewBreak(ctx, in.Segment, in.Body.Incident)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body audit.SegmentStatus }{s}, nil
		})
}

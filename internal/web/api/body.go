package api

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/wardhq/ward/internal/input"
)

// MaxBodyExtension names the OpenAPI extension that states the largest
// request body an operation takes, in bytes (-1: streamed, no limit).
const MaxBodyExtension = "x-ward-max-body-bytes"

// documentLimits states in the OpenAPI document, for every operation that
// takes a body, the media types it accepts and its size limit; inputPolicy
// enforces both.
func documentLimits(api huma.API) {
	for _, item := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil || op.RequestBody == nil {
				continue
			}
			if op.Extensions == nil {
				op.Extensions = map[string]any{}
			}
			op.Extensions[MaxBodyExtension] = op.MaxBodyBytes
			limit := "no size limit (streamed)"
			if op.MaxBodyBytes > 0 {
				limit = fmt.Sprintf("at most %d bytes", op.MaxBodyBytes)
			}
			op.Description = strings.TrimSpace(op.Description + fmt.Sprintf(
				"\n\nRequest body: %s, %s; a larger one is refused with 413, another Content-Type with 415.",
				strings.Join(mediaTypes(op), " or "), limit))
			for _, code := range []int{http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType} {
				if !slices.Contains(op.Errors, code) {
					op.Errors = append(op.Errors, code)
				}
			}
		}
	}
}

func mediaTypes(op *huma.Operation) []string {
	var out []string
	for mt := range op.RequestBody.Content {
		out = append(out, mt)
	}
	slices.Sort(out)
	return out
}

// inputPolicy applies Ward's input policy (package input) to every
// request before huma decodes it: a path or query value that breaks it is
// 422 naming it; a body of another media type than the operation declares
// is 415 (none given is no exception), a JSON body larger than the
// operation's limit is 413, and a JSON body with a control character,
// invalid UTF-8, a title without a visible character, a bidirectional
// control in a title or name, or a key twice in one object is 422 naming
// the member.
func inputPolicy(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		op := ctx.Operation()
		r, _ := humago.Unwrap(ctx)
		if loc, reason := input.URL(r.URL); reason != "" {
			_ = huma.WriteErr(api, ctx, http.StatusUnprocessableEntity, "validation failed",
				&huma.ErrorDetail{Location: loc, Message: reason})
			return
		}
		if op.RequestBody == nil || len(op.RequestBody.Content) == 0 || (r.ContentLength == 0 && !op.RequestBody.Required) {
			next(ctx)
			return
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if _, ok := op.RequestBody.Content[mt]; err != nil || !ok {
			_ = huma.WriteErr(api, ctx, http.StatusUnsupportedMediaType,
				fmt.Sprintf("the body must be sent with Content-Type: %s", strings.Join(mediaTypes(op), " or ")),
				&huma.ErrorDetail{Location: "header.Content-Type", Message: "must be " + strings.Join(mediaTypes(op), " or ")})
			return
		}
		if mt != "application/json" {
			next(ctx)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, op.MaxBodyBytes+1))
		if err != nil {
			_ = huma.WriteErr(api, ctx, http.StatusBadRequest, "the body could not be read")
			return
		}
		if int64(len(body)) > op.MaxBodyBytes {
			_ = huma.WriteErr(api, ctx, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("the body is larger than this operation's limit of %d bytes", op.MaxBodyBytes))
			return
		}
		if p := input.JSON("body", body); p != nil {
			_ = huma.WriteErr(api, ctx, http.StatusUnprocessableEntity, "validation failed",
				&huma.ErrorDetail{Location: p.Location, Message: p.Message})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next(ctx)
	}
}

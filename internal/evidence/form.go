package evidence

import (
	"errors"
	"io"
	"mime/multipart"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// maxField caps one text field of an upload form.
const maxField = 64 << 10

// ReadForm reads an upload form from mr: the fields description, source,
// collected_by, collected_at, related_asset and sha256 in any order, then
// the part named "file". It stops at the file and returns the metadata and
// the file, to be read as a stream; the file's name and media type come
// from its part's headers. A field the form does not know is an error; so
// is a part after the file, when the file is read to its end, so that the
// upload is refused and nothing kept.
func ReadForm(mr *multipart.Reader) (Upload, io.Reader, error) {
	var u Upload
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return Upload{}, nil, apperr.Field("file", "choose a file to upload")
		}
		if err != nil {
			return Upload{}, nil, apperr.Field("file", "the form could not be read: %v", err)
		}
		name := part.FormName()
		if name == "file" {
			u.FileName, u.ContentType = part.FileName(), part.Header.Get("Content-Type")
			return u, &lastPart{part: part, mr: mr}, nil
		}
		v, err := io.ReadAll(io.LimitReader(part, maxField+1))
		if err != nil {
			return Upload{}, nil, apperr.Field(name, "could not be read")
		}
		if len(v) > maxField {
			return Upload{}, nil, apperr.Field(name, "is too long")
		}
		s := string(v)
		switch name {
		case "description":
			u.Description = s
		case "source":
			u.Source = s
		case "collected_by":
			u.CollectedBy = s
		case "related_asset":
			u.RelatedAsset = s
		case "sha256":
			u.SHA256 = s
		case "collected_at":
			if s == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				if t, err = time.Parse("2006-01-02T15:04", s); err != nil {
					return Upload{}, nil, apperr.Field("collected_at", "must be a date and time (RFC 3339)")
				}
			}
			u.CollectedAt = &t
		default:
			return Upload{}, nil, apperr.Field(name, "is not a field of the upload form")
		}
	}
}

// lastPart reads the file part and, at its end, checks that no part
// follows it.
type lastPart struct {
	part *multipart.Part
	mr   *multipart.Reader
}

func (l *lastPart) Read(p []byte) (int, error) {
	n, err := l.part.Read(p)
	if !errors.Is(err, io.EOF) {
		return n, err
	}
	if _, nerr := l.mr.NextPart(); !errors.Is(nerr, io.EOF) {
		return n, apperr.Field("file", "must be the form's last part")
	}
	return n, io.EOF
}

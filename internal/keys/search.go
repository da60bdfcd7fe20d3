package keys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// SearchTitles is the purpose of the blind index of incident titles: the
// id of its key in search_keys.
const SearchTitles = "incident_title"

// searchKeySize is the size of a blind index key (HMAC-SHA-256).
const searchKeySize = 32

// tokenSize is how much of each HMAC a token keeps: 128 bits, ample to
// make a false match between two words negligible.
const tokenSize = 16

// maxTokenRunes caps a word's length before it is hashed.
const maxTokenRunes = 64

// loadSearchKey reads the blind index key of purpose, making it (random,
// sealed) the first time. Several nodes starting at once agree on the
// first one stored.
func (k *Keyring) loadSearchKey(ctx context.Context, purpose string, now time.Time) ([]byte, error) {
	read := func() ([]byte, error) {
		var sealed string
		err := k.d.R.QueryRowContext(ctx, "SELECT key FROM search_keys WHERE id = $1", purpose).Scan(&sealed)
		if err != nil {
			return nil, err
		}
		return k.Open(sealed, SearchKey.Table, SearchKey.Name, purpose)
	}
	key, err := read()
	if !errors.Is(err, sql.ErrNoRows) {
		return key, err
	}
	key = make([]byte, searchKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("new search key: %w", err)
	}
	sealed, err := k.Seal(key, SearchKey.Table, SearchKey.Name, purpose)
	if err != nil {
		return nil, err
	}
	err = k.d.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO search_keys (id, key, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, purpose, sealed, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store search key: %w", err)
	}
	return read()
}

// SearchTokens returns the blind index tokens of text: for each distinct
// word (Words), the truncated HMAC-SHA-256 of it under the title search
// key, base64. Equal words give equal tokens, so a search hashes its own
// words and looks them up; the index alone reveals no word.
func (k *Keyring) SearchTokens(text string) []string {
	words := Words(text)
	out := make([]string, len(words))
	m := k.titles.pool.Get().(hash.Hash)
	var sum [sha256.Size]byte
	for i, w := range words {
		m.Reset()
		m.Write([]byte(w))
		out[i] = base64.RawStdEncoding.EncodeToString(m.Sum(sum[:0])[:tokenSize])
	}
	k.titles.pool.Put(m)
	return out
}

// Words splits text into the distinct words a search matches, sorted:
// compatibility-normalised (NFKC), lower-cased, split at anything that is
// not a letter, a digit or a combining mark. Words of one letter are left
// out (they would match nearly every title); numbers of any length stay.
// A word is cut at 64 characters.
func Words(text string) []string {
	text = strings.ToLower(norm.NFKC.String(text))
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	})
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		rs := []rune(f)
		if len(rs) == 1 && !unicode.IsDigit(rs[0]) {
			continue
		}
		if len(rs) > maxTokenRunes {
			f = string(rs[:maxTokenRunes])
		}
		out = append(out, f)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

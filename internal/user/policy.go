package user

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/wardhq/ward/internal/apperr"
)

// Password rules, after NIST SP 800-63B §5.1.1.2 (memorized secret
// verifiers): a minimum length (the standard's floor is 8; Ward asks 12),
// a maximum of at least 64 (Ward allows 256), no composition rules (no
// required digits, symbols or mixed case), no hints or periodic expiry, and
// a check against common and breached passwords, context-specific words
// (the username) and repetitive characters. Lengths count Unicode code
// points after NFKC normalisation.
const (
	MinPassword = 12
	MaxPassword = 256
	// minDistinct is the fewest different characters a password may have
	// ("aaaaaaaaaaaa" and "abababababab" are repetitive, §5.1.1.2).
	minDistinct = 4
)

// commonPasswordsGz is the list checked against (SP 800-63B §5.1.1.2:
// "passwords obtained from previous breach corpuses" and "dictionary
// words"): 49,233 passwords, most common first, from the MIT-licensed npm
// package @zxcvbn-ts/language-common 4.1.3. The file's header names the
// source and carries the licence; README.md says how it was made.
//
//go:embed common_passwords.txt.gz
var commonPasswordsGz []byte

// loadCommonPasswords returns a function that decodes the embedded list on
// its first call and returns the same set after. The header ends at the
// first blank line; then there is one lower-case password per line.
func loadCommonPasswords() func() map[string]struct{} {
	return sync.OnceValue(func() map[string]struct{} {
		zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
		if err != nil {
			panic("user: embedded common_passwords.txt.gz: " + err.Error())
		}
		set := make(map[string]struct{}, 50_000)
		sc := bufio.NewScanner(zr)
		header := true
		for sc.Scan() {
			line := sc.Text()
			switch {
			case header:
				header = line != ""
			case line != "":
				set[line] = struct{}{}
			}
		}
		if err := sc.Err(); err != nil {
			panic("user: embedded common_passwords.txt.gz: " + err.Error())
		}
		return set
	})
}

// checkPassword applies the password rules to pw for the account username
// and returns an Invalid error naming the field "password".
func (s *Service) checkPassword(pw, username string) error {
	n := norm.NFKC.String(pw)
	length := utf8.RuneCountInString(n)
	switch {
	case length < MinPassword:
		return apperr.Field("password", "must be at least %d characters", MinPassword)
	case length > MaxPassword:
		return apperr.Field("password", "must be at most %d characters", MaxPassword)
	}
	lower := strings.ToLower(n)
	if username != "" && strings.Contains(lower, strings.ToLower(username)) {
		return apperr.Field("password", "must not contain the username")
	}
	distinct := map[rune]struct{}{}
	for _, r := range lower {
		distinct[r] = struct{}{}
	}
	if len(distinct) < minDistinct {
		return apperr.Field("password", "is too repetitive: use at least %d different characters", minDistinct)
	}
	common := s.common()
	// A listed password with digits or symbols added at the end
	// ("sunshine2024!") is as guessable as the listed one.
	core := strings.TrimRightFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	for _, candidate := range []string{lower, core} {
		if _, ok := common[candidate]; ok {
			return apperr.Field("password", "is too common: it appears in lists of leaked and often-used passwords")
		}
	}
	return nil
}

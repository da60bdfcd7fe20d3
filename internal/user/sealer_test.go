package user_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
)

// testSealer is AES-256-GCM with a fixed test key, the associated data
// binding a ciphertext to its table, column and row as the keys package does.
type testSealer struct{ aead cipher.AEAD }

func newTestSealer() testSealer {
	block, err := aes.NewCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return testSealer{aead: aead}
}

func associated(table, column, rowID string) []byte {
	return []byte(table + "\x00" + column + "\x00" + rowID)
}

func (s testSealer) Seal(plaintext []byte, table, column, rowID string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plaintext, associated(table, column, rowID))), nil
}

func (s testSealer) Open(ciphertext string, table, column, rowID string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return nil, err
	}
	if len(raw) < s.aead.NonceSize() {
		return nil, errors.New("ciphertext too short")
	}
	n := s.aead.NonceSize()
	return s.aead.Open(nil, raw[:n], raw[n:], associated(table, column, rowID))
}

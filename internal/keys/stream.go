package keys

import (
	"bytes"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/streamingaead"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// NewStreamKey makes a fresh streaming AEAD key (AES-256-GCM-HKDF, 1 MiB
// segments) for one large value, such as an evidence file, and returns it
// sealed for column c of row rowID, ready to store beside the value. The
// key is sealed like any other value, so a rotation of the keyset or a
// change of master key re-encrypts it and never the value itself.
func (k *Keyring) NewStreamKey(c Column, rowID string) (string, tink.StreamingAEAD, error) {
	h, err := keyset.NewHandle(streamingaead.AES256GCMHKDF1MBKeyTemplate())
	if err != nil {
		return "", nil, fmt.Errorf("new stream key: %w", err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewBinaryWriter(&buf)); err != nil {
		return "", nil, fmt.Errorf("new stream key: %w", err)
	}
	sealed, err := k.Seal(buf.Bytes(), c.Table, c.Name, rowID)
	if err != nil {
		return "", nil, err
	}
	s, err := streamingaead.New(h)
	if err != nil {
		return "", nil, fmt.Errorf("new stream key: %w", err)
	}
	return sealed, s, nil
}

// OpenStreamKey opens a key made by NewStreamKey for the same column and
// row.
func (k *Keyring) OpenStreamKey(sealed string, c Column, rowID string) (tink.StreamingAEAD, error) {
	raw, err := k.Open(sealed, c.Table, c.Name, rowID)
	if err != nil {
		return nil, err
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewBinaryReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("open stream key: %w", err)
	}
	s, err := streamingaead.New(h)
	if err != nil {
		return nil, fmt.Errorf("open stream key: %w", err)
	}
	return s, nil
}

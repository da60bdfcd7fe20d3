package backup

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
)

// The encrypted file (docs/OPERATIONS.md, "Backup file format"): a header,
// then records of [uint32 length][AES-256-GCM ciphertext], each sealing
// up to chunkSize bytes of the archive. A chunk's nonce is its counter and
// a flag marking the last chunk, and every chunk authenticates the header,
// so chunks cannot be reordered, dropped, cut off or moved to another
// backup without the reader noticing (the STREAM construction of Hoang,
// Reyhanitabar, Rogaway and Vizár, 2015).

// magic starts every backup file.
var magic = [8]byte{'W', 'A', 'R', 'D', 'B', 'K', 'U', 'P'}

const (
	fileVersion = 1
	kdfKeyFile  = 1
	kdfArgon2id = 2
	chunkSize   = 256 << 10
	headerSize  = 8 + 1 + 1 + 4 + 4 + 1 + 32 + 16 + 4
	// Argon2id costs for passphrases (RFC 9106's second recommended
	// option: 3 passes, 64 MiB).
	argonTime    = 3
	argonMemory  = 64 << 10
	argonThreads = 4
)

// Errors a reader reports; each wraps the detail.
var (
	ErrNotBackup = errors.New("not a Ward backup")
	ErrWrongKey  = errors.New("the backup key does not open this backup")
	ErrTruncated = errors.New("the backup is truncated")
	ErrDamaged   = errors.New("the backup was altered or damaged")
)

// header is a backup file's header.
type header struct {
	kdf                 byte
	argonTime, argonMem uint32
	argonThreads        byte
	salt                [32]byte
	check               [16]byte
	chunk               uint32
	encKey              []byte   // the chunks' key
	wantCheck           [16]byte // the check value the key gives
}

func (h *header) encode() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, magic[:]...)
	b = append(b, fileVersion, h.kdf)
	b = binary.BigEndian.AppendUint32(b, h.argonTime)
	b = binary.BigEndian.AppendUint32(b, h.argonMem)
	b = append(b, h.argonThreads)
	b = append(b, h.salt[:]...)
	b = append(b, h.check[:]...)
	return binary.BigEndian.AppendUint32(b, h.chunk)
}

// derive sets the chunk key and the key check value from k and the
// header's salt and costs.
func (h *header) derive(k Key) error {
	base := k.secret
	if h.kdf == kdfArgon2id {
		base = argon2.IDKey(k.secret, h.salt[:], h.argonTime, h.argonMem, h.argonThreads, KeySize)
	}
	out, err := hkdf.Key(sha256.New, base, h.salt[:], "ward backup v1", KeySize+16)
	if err != nil {
		return err
	}
	h.encKey = out[:KeySize]
	copy(h.wantCheck[:], out[KeySize:])
	return nil
}

// sealer writes the encrypted file.
type sealer struct {
	w     io.Writer
	aead  cipher.AEAD
	ad    []byte
	buf   []byte
	n     uint64
	nonce [12]byte
	out   []byte
}

func newSealer(w io.Writer, k Key) (*sealer, error) {
	if k.IsZero() {
		return nil, errors.New("backup: no backup key")
	}
	h := header{kdf: kdfKeyFile, chunk: chunkSize}
	if k.passphrase {
		h.kdf, h.argonTime, h.argonMem, h.argonThreads = kdfArgon2id, argonTime, argonMemory, argonThreads
	}
	if _, err := rand.Read(h.salt[:]); err != nil {
		return nil, err
	}
	if err := h.derive(k); err != nil {
		return nil, err
	}
	h.check = h.wantCheck
	raw := h.encode()
	aead, err := gcm(h.encKey)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	return &sealer{w: w, aead: aead, ad: raw, buf: make([]byte, 0, chunkSize)}, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (s *sealer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(s.buf) == chunkSize {
			if err := s.flush(false); err != nil {
				return 0, err
			}
		}
		c := copy(s.buf[len(s.buf):chunkSize], p)
		s.buf = s.buf[:len(s.buf)+c]
		p = p[c:]
	}
	return n, nil
}

// flush seals the buffered chunk; last marks the final one.
func (s *sealer) flush(last bool) error {
	setNonce(&s.nonce, s.n, last)
	s.out = binary.BigEndian.AppendUint32(s.out[:0], uint32(len(s.buf)+s.aead.Overhead()))
	s.out = s.aead.Seal(s.out, s.nonce[:], s.buf, s.ad)
	s.n++
	s.buf = s.buf[:0]
	_, err := s.w.Write(s.out)
	return err
}

// Close seals the last chunk. It does not close the underlying writer.
func (s *sealer) Close() error { return s.flush(true) }

func setNonce(nonce *[12]byte, n uint64, last bool) {
	binary.BigEndian.PutUint64(nonce[3:11], n)
	nonce[11] = 0
	if last {
		nonce[11] = 1
	}
}

// opener reads an encrypted file, failing with ErrWrongKey, ErrTruncated
// or ErrDamaged.
type opener struct {
	r     *bufio.Reader
	aead  cipher.AEAD
	ad    []byte
	chunk uint32
	n     uint64
	buf   []byte
	dec   []byte // the opened chunk's buffer
	plain []byte // what is left of it to read
	done  bool
	nonce [12]byte
	err   error
}

func newOpener(r io.Reader, k Key) (*opener, error) {
	if k.IsZero() {
		return nil, errors.New("backup: no backup key")
	}
	br := bufio.NewReaderSize(r, 1<<20)
	raw := make([]byte, headerSize)
	if n, err := io.ReadFull(br, raw); err != nil {
		if n >= len(magic) && bytes.Equal(raw[:len(magic)], magic[:]) {
			return nil, fmt.Errorf("%w: the header is cut short", ErrTruncated)
		}
		return nil, fmt.Errorf("%w: the file is too short", ErrNotBackup)
	}
	if !bytes.Equal(raw[:len(magic)], magic[:]) {
		return nil, fmt.Errorf("%w: it does not start with Ward's backup marker", ErrNotBackup)
	}
	if raw[8] != fileVersion {
		return nil, fmt.Errorf("%w: file format version %d; this Ward reads version %d", ErrNotBackup, raw[8], fileVersion)
	}
	h := header{kdf: raw[9], argonTime: binary.BigEndian.Uint32(raw[10:]), argonMem: binary.BigEndian.Uint32(raw[14:]),
		argonThreads: raw[18], chunk: binary.BigEndian.Uint32(raw[67:])}
	copy(h.salt[:], raw[19:51])
	copy(h.check[:], raw[51:67])
	switch {
	case h.kdf == kdfKeyFile && k.passphrase:
		return nil, fmt.Errorf("%w: it was made with a backup key file, not a passphrase", ErrWrongKey)
	case h.kdf == kdfArgon2id && !k.passphrase:
		return nil, fmt.Errorf("%w: it was made with a passphrase, not a backup key file", ErrWrongKey)
	case h.kdf != kdfKeyFile && h.kdf != kdfArgon2id:
		return nil, fmt.Errorf("%w: unknown key derivation %d", ErrDamaged, h.kdf)
	case h.kdf == kdfArgon2id && (h.argonTime == 0 || h.argonTime > 16 || h.argonMem < 8<<10 || h.argonMem > 1<<20 || h.argonThreads == 0):
		return nil, fmt.Errorf("%w: passphrase costs out of range", ErrDamaged)
	case h.chunk == 0 || h.chunk > 16<<20:
		return nil, fmt.Errorf("%w: chunk size %d out of range", ErrDamaged, h.chunk)
	}
	if err := h.derive(k); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(h.check[:], h.wantCheck[:]) != 1 {
		return nil, fmt.Errorf("%w: wrong key, or the header was altered", ErrWrongKey)
	}
	aead, err := gcm(h.encKey)
	if err != nil {
		return nil, err
	}
	return &opener{r: br, aead: aead, ad: raw, chunk: h.chunk}, nil
}

func (o *opener) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		o.err = o.next()
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

// next opens the next chunk. A chunk is the last when the file ends after
// it; one sealed as last that is followed by more, or a file that ends
// after a chunk not sealed as last, is refused.
func (o *opener) next() error {
	var lenBuf [4]byte
	if _, err := io.ReadFull(o.r, lenBuf[:]); err != nil {
		return fmt.Errorf("%w: it ends after chunk %d, without its final chunk", ErrTruncated, o.n)
	}
	size := binary.BigEndian.Uint32(lenBuf[:])
	if size < uint32(o.aead.Overhead()) || size > o.chunk+uint32(o.aead.Overhead()) {
		return fmt.Errorf("%w: chunk %d has an impossible length", ErrDamaged, o.n+1)
	}
	if cap(o.buf) < int(size) {
		o.buf = make([]byte, size)
	}
	o.buf = o.buf[:size]
	if _, err := io.ReadFull(o.r, o.buf); err != nil {
		return fmt.Errorf("%w: chunk %d is cut short", ErrTruncated, o.n+1)
	}
	_, peekErr := o.r.Peek(1)
	last := peekErr == io.EOF
	if peekErr != nil && !last {
		return peekErr
	}
	setNonce(&o.nonce, o.n, last)
	plain, err := o.aead.Open(o.dec[:0], o.nonce[:], o.buf, o.ad)
	if err != nil {
		// Tell truncation and trailing data from damage.
		setNonce(&o.nonce, o.n, !last)
		if _, err2 := o.aead.Open(nil, o.nonce[:], o.buf, o.ad); err2 == nil {
			if last {
				return fmt.Errorf("%w: it ends after chunk %d, without its final chunk", ErrTruncated, o.n+1)
			}
			return fmt.Errorf("%w: data follows its final chunk", ErrDamaged)
		}
		return fmt.Errorf("%w: chunk %d fails authentication", ErrDamaged, o.n+1)
	}
	o.n++
	o.dec, o.plain = plain, plain
	o.done = last
	return nil
}

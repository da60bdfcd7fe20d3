package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// The archive inside the encryption: a sequence of parts, each
// [uint16 name length][name] then blocks of [uint32 length][bytes] ending
// with an empty block. The last part is manifestName. Parts are streamed,
// so a table is written as it is read, without knowing its size first.

const (
	manifestName = "manifest.json"
	maxName      = 255
	blockSize    = 64 << 10
)

// archiveWriter writes parts.
type archiveWriter struct {
	w *bufio.Writer
}

func newArchiveWriter(w io.Writer) *archiveWriter {
	return &archiveWriter{w: bufio.NewWriterSize(w, blockSize+4)}
}

// partWriter is one part being written: Write appends to it, finish ends
// it and returns its size, hash and number of lines.
type partWriter struct {
	a     *archiveWriter
	buf   []byte
	h     hash.Hash
	bytes int64
	lines int64
	err   error
}

func (a *archiveWriter) begin(name string) (*partWriter, error) {
	if name == "" || len(name) > maxName {
		return nil, fmt.Errorf("backup: bad part name %q", name)
	}
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(len(name)))
	if _, err := a.w.Write(b[:]); err != nil {
		return nil, err
	}
	if _, err := a.w.WriteString(name); err != nil {
		return nil, err
	}
	return &partWriter{a: a, buf: make([]byte, 0, blockSize), h: sha256.New()}, nil
}

func (p *partWriter) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n := len(b)
	p.h.Write(b)
	p.bytes += int64(n)
	p.lines += int64(bytes.Count(b, []byte{'\n'}))
	for len(b) > 0 {
		c := copy(p.buf[len(p.buf):blockSize], b)
		p.buf = p.buf[:len(p.buf)+c]
		b = b[c:]
		if len(p.buf) == blockSize {
			p.err = p.block()
			if p.err != nil {
				return 0, p.err
			}
		}
	}
	return n, nil
}

func (p *partWriter) block() error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(len(p.buf)))
	if _, err := p.a.w.Write(b[:]); err != nil {
		return err
	}
	_, err := p.a.w.Write(p.buf)
	p.buf = p.buf[:0]
	return err
}

// finish ends the part.
func (p *partWriter) finish() (sum string, size, lines int64, err error) {
	if p.err != nil {
		return "", 0, 0, p.err
	}
	if len(p.buf) > 0 {
		if err := p.block(); err != nil {
			return "", 0, 0, err
		}
	}
	if err := p.block(); err != nil { // the empty block that ends the part
		return "", 0, 0, err
	}
	return hex.EncodeToString(p.h.Sum(nil)), p.bytes, p.lines, nil
}

// close flushes the archive; the caller closes what is under it.
func (a *archiveWriter) close() error { return a.w.Flush() }

// archiveReader reads parts.
type archiveReader struct {
	r   *bufio.Reader
	cur *partReader
}

func newArchiveReader(r io.Reader) *archiveReader {
	return &archiveReader{r: bufio.NewReaderSize(r, blockSize+4)}
}

// next returns the next part's name and contents; io.EOF when the archive
// ends. The previous part is read to its end first.
func (a *archiveReader) next() (string, *partReader, error) {
	if a.cur != nil {
		if _, err := io.Copy(io.Discard, a.cur); err != nil {
			return "", nil, err
		}
	}
	var b [2]byte
	if _, err := io.ReadFull(a.r, b[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return "", nil, io.EOF
		}
		return "", nil, archiveErr(err)
	}
	n := binary.BigEndian.Uint16(b[:])
	if n == 0 || n > maxName {
		return "", nil, fmt.Errorf("%w: a part name has an impossible length", ErrDamaged)
	}
	name := make([]byte, n)
	if _, err := io.ReadFull(a.r, name); err != nil {
		return "", nil, archiveErr(err)
	}
	a.cur = &partReader{r: a.r, h: sha256.New()}
	return string(name), a.cur, nil
}

// archiveErr is a read error inside the archive: the encryption layer's
// own error, or, if the archive ends early although the encryption is
// whole, damage.
func archiveErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: the archive inside ends in the middle of a part", ErrDamaged)
	}
	return err
}

// partReader reads one part's blocks, hashing and counting them.
type partReader struct {
	r     *bufio.Reader
	left  uint32
	ended bool
	h     hash.Hash
	bytes int64
	lines int64
}

func (p *partReader) Read(b []byte) (int, error) {
	for p.left == 0 {
		if p.ended {
			return 0, io.EOF
		}
		var lb [4]byte
		if _, err := io.ReadFull(p.r, lb[:]); err != nil {
			return 0, archiveErr(err)
		}
		p.left = binary.BigEndian.Uint32(lb[:])
		if p.left > blockSize {
			return 0, fmt.Errorf("%w: a block has an impossible length", ErrDamaged)
		}
		p.ended = p.left == 0
	}
	if uint32(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.r.Read(b)
	p.left -= uint32(n)
	p.h.Write(b[:n])
	p.bytes += int64(n)
	p.lines += int64(bytes.Count(b[:n], []byte{'\n'}))
	if err != nil {
		return n, archiveErr(err)
	}
	return n, nil
}

// sum is the part's SHA-256 so far, in hex.
func (p *partReader) sum() string { return hex.EncodeToString(p.h.Sum(nil)) }

package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/store"
)

// ErrCorrupt is returned when stored content fails authentication or is
// missing: it is reported, never served.
var ErrCorrupt = errors.New("evidence: stored content is corrupt")

// Open returns a reader of plaintext bytes [off, off+length) of f.
// Segments are fetched and decrypted ahead on other goroutines, whole
// segments in blocks of 16 chunks (about 1 MiB) so the bytes pass through
// the processor's cache once, and every chunk is authenticated before any
// byte of it is returned. The first verifiedPrefix bytes of the range (all
// of it when shorter: most documents) are authenticated before Open
// returns, so corruption there is an error here, before any response is
// written; later corruption or truncation makes Read fail, and the caller
// cuts the connection. Close the reader.
//
// A file stored before segment MACs were recorded (f.SegmentMACs nil) has
// no check of its own per segment: a segment of another file of the visit
// decrypts under the same key. Such a file is read only whole, and
// checked whole against its SHA-256 before Open returns (see wholeCheck),
// which records the MACs of the segments it read: the reader returned
// then checks each segment against those, so no byte of another file is
// handed out, even before the end of a file that does not match.
func (s *Service) Open(ctx context.Context, v store.Visit, key *crypto.VisitKey, f store.File, off, length int64) (io.ReadCloser, error) {
	if off < 0 || length < 0 || off+length > f.Size {
		return nil, fmt.Errorf("evidence: range %d+%d outside file of %d bytes", off, length, f.Size)
	}
	if f.SegmentMACs != nil && int64(len(f.SegmentMACs)) != segmentsOf(f)*crypto.MACSize {
		// Not the list the file was stored with: the row was changed
		// under the portal. Found now, before any byte is sent, rather
		// than at the first segment without its MAC (past the part
		// checked before the response starts), or never.
		return nil, ErrCorrupt
	}
	if f.SegmentMACs == nil {
		if off != 0 || length != f.Size {
			return nil, fmt.Errorf("evidence: file %s has no segment MACs: a range of it cannot be checked", f.ID)
		}
		w, err := s.checkWhole(ctx, v, key, f)
		if err != nil {
			return nil, err
		}
		f.SegmentMACs = w.macs
	}
	return s.open(ctx, v, key, f, off, length)
}

// checkWhole reads f, a file without recorded segment MACs, to its end,
// checked whole against its SHA-256 (ErrCorrupt when it does not match),
// and records the MACs of the segments it read.
func (s *Service) checkWhole(ctx context.Context, v store.Visit, key *crypto.VisitKey, f store.File) (*wholeCheck, error) {
	r, err := s.open(ctx, v, key, f, 0, f.Size)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	w := r.(*segmentReader).whole
	if !w.matched {
		return nil, ErrCorrupt
	}
	return w, nil
}

// open is Open once the file's segments can be checked: each against its
// recorded MAC, or (checkWhole) the whole against its SHA-256.
func (s *Service) open(ctx context.Context, v store.Visit, key *crypto.VisitKey, f store.File, off, length int64) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	r := &segmentReader{ch: make(chan segment), cancel: cancel, ctx: ctx, left: length}
	if f.SegmentMACs == nil {
		r.whole = s.wholeCheck(ctx, v, f)
	}
	go s.produce(ctx, r.ch, v, key, f, off, length)
	// An empty file has its one segment all the same: it is read whole
	// before Open returns, which shows the object is there and is this
	// file's (there is no byte to fail later on).
	for held := int64(0); held < min(length, verifiedPrefix) || f.Size == 0; {
		seg, ok := r.receive()
		if !ok {
			break
		}
		r.held = append(r.held, seg)
		if seg.err != nil {
			r.Close()
			return nil, seg.err
		}
		held += int64(len(seg.data))
	}
	return r, nil
}

// CheckEnd reports ErrCorrupt when the store holds a segment of f past
// the last its size gives it: a row cut short in the database names only
// authentic segments, each a whole sealed age file, and would otherwise be
// served as the complete file. One request, whatever the file's size.
func (s *Service) CheckEnd(ctx context.Context, v store.Visit, f store.File) error {
	past, err := s.Blobs.Exists(ctx, v.Bucket, ObjectKey(f.ID, int(segmentsOf(f))))
	if err != nil {
		return err
	}
	if past {
		return ErrCorrupt
	}
	return nil
}

// segmentsOf is how many segments f is stored in: an empty file has one.
func segmentsOf(f store.File) int64 { return max(1, (f.Size+f.SegmentSize-1)/f.SegmentSize) }

// verifiedPrefix is how much of a range Open authenticates before it
// returns: enough for most documents to be checked whole before the
// response starts, little enough that a download's memory stays small.
const verifiedPrefix = 4 << 20

type segment struct {
	data []byte
	buf  *[]byte // pooled backing store to return, or nil
	err  error
	// mac is the header MAC of the segment this block starts, sent only
	// for a file without recorded MACs (wholeCheck).
	mac []byte
}

// readAhead is how many segments are fetched and decrypted at once: one
// per core on the machines we size for, so the GET of the next segment and
// the decryption of this one overlap.
const readAhead = 2

// blocksAhead is how many decrypted blocks a streamed segment may hold ready
// before the sender takes them, so the next segment is under way when this
// one is sent. A download holds at most verifiedPrefix and
// readAhead*(blocksAhead+1) blocks: about 22 MiB, whatever the file's size
// (8 concurrent 1 GiB downloads peaked at 198 MiB of portal RSS; with 16
// blocks ahead, 278 MiB for no measurable gain; with 4, 137 MiB and 8%
// slower).
const blocksAhead = 8

// produce decrypts the segments of the range and hands them over in order;
// it stops when the reader is closed (ctx cancelled) or a segment fails.
func (s *Service) produce(ctx context.Context, ch chan<- segment, v store.Visit, key *crypto.VisitKey, f store.File, off, length int64) {
	defer close(ch)
	end := off + length
	// pending holds one channel per segment in flight, in order; each is
	// closed by its goroutine after its last block or an error.
	var pending []chan segment
	// deliver hands over the blocks of the oldest pending segment; false
	// means stop.
	deliver := func() bool {
		p := pending[0]
		pending = pending[1:]
		for seg := range p {
			select {
			case ch <- seg:
				if seg.err != nil {
					drain(p)
					return false
				}
			case <-ctx.Done():
				putBuf(seg.buf)
				drain(p)
				return false
			}
		}
		return true
	}
	defer func() {
		// On a stop, let the segments still in flight finish and free them.
		for _, p := range pending {
			drain(p)
		}
	}()
	for i := off / f.SegmentSize; length > 0 && i*f.SegmentSize < end || f.Size == 0 && i == 0; i++ {
		segStart := i * f.SegmentSize
		segLen := min(f.SegmentSize, f.Size-segStart)
		a, b := max(off, segStart)-segStart, min(end, segStart+segLen)-segStart
		p := make(chan segment, blocksAhead)
		pending = append(pending, p)
		go func(i int) {
			defer close(p)
			if a != 0 || b != segLen {
				s.readPart(ctx, p, v, key, f, i, segLen, a, b)
			} else {
				s.stream(ctx, p, v, key, f, i, segLen)
			}
		}(int(i))
		if len(pending) == readAhead && !deliver() {
			return
		}
	}
	for len(pending) > 0 {
		if !deliver() {
			return
		}
	}
}

// drain frees what a segment's goroutine still sends, until it closes p.
func drain(p <-chan segment) {
	for seg := range p {
		putBuf(seg.buf)
	}
}

// blockSize is the ciphertext a streamed segment is read in: 16 chunks,
// about 1 MiB, which stays in a core's cache from the socket to the socket.
const blockSize = 16 * crypto.EncryptedChunkSize

var blockPool = sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}

// stream decrypts the whole segment i (n bytes) block by block into out.
func (s *Service) stream(ctx context.Context, out chan<- segment, v store.Visit, key *crypto.VisitKey, f store.File, i int, n int64) {
	fail := func(err error) { out <- segment{err: storeError(err)} }
	body, err := s.Blobs.Get(ctx, v.Bucket, ObjectKey(f.ID, i))
	if err != nil {
		fail(err)
		return
	}
	defer body.Close()
	ctLen := crypto.EncryptedSize(f.HeaderSize, n)
	if sz, ok := body.(interface{ Size() int64 }); ok && sz.Size() != ctLen {
		fail(ErrCorrupt) // the object is not the length it was stored at
		return
	}
	// A body that ends early was cut off in transit: the store's reader
	// says so (blobs), a failure of the store, not corruption.
	pr, err := key.NewPayloadReader(body, n, f.SegmentMAC(i))
	if err != nil {
		fail(err)
		return
	}
	var mac []byte
	if f.SegmentMACs == nil {
		mac = pr.MAC() // for wholeCheck, with the segment's first block
	}
	for {
		buf := blockPool.Get().(*[]byte)
		p, err := pr.ReadBlock(*buf)
		if err != nil {
			blockPool.Put(buf)
			if err != io.EOF {
				fail(err)
			}
			return
		}
		seg := segment{data: p, buf: buf, mac: mac}
		mac = nil
		select {
		case out <- seg:
		case <-ctx.Done():
			blockPool.Put(buf)
			return
		}
	}
}

var segmentPool sync.Pool // of *[]byte with cap >= the segment size in use (uploads)

func getBuf(n int64) *[]byte {
	if p, ok := segmentPool.Get().(*[]byte); ok && int64(cap(*p)) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n)
	return &b
}

func putBuf(p *[]byte) {
	switch {
	case p == nil:
	case cap(*p) == blockSize && len(*p) <= blockSize:
		*p = (*p)[:blockSize]
		blockPool.Put(p)
	case cap(*p) >= 1<<20:
		// Small buffers are not worth keeping: they come from small files.
		segmentPool.Put(p)
	}
}

// readPart decrypts plaintext [a, b) of segment i with random access, in
// blocks of at most blockChunks chunks handed out as they are ready, as
// stream does: one GET for the header, one for the final chunk (age
// authenticates the size with it) and one per block for its span of
// chunks. Memory stays that of a few blocks, however much of the segment
// the range covers (a resumed download, a download manager's parts).
func (s *Service) readPart(ctx context.Context, out chan<- segment, v store.Visit, key *crypto.VisitKey, f store.File, i int, n, a, b int64) {
	fail := func(err error) { out <- segment{err: storeError(err)} }
	ctSize := crypto.EncryptedSize(f.HeaderSize, n)
	src := &windowReaderAt{ctx: ctx, blobs: s.Blobs, bucket: v.Bucket, key: ObjectKey(f.ID, i), size: ctSize}
	defer src.plan(0, 0)
	plain, _, err := key.DecryptRange(src, ctSize, f.SegmentMAC(i))
	if err != nil {
		fail(err)
		return
	}
	for x := a; x < b; {
		y := min(b, (x/crypto.ChunkSize+blockChunks)*crypto.ChunkSize)
		src.plan(crypto.ChunkOffset(f.HeaderSize, x/crypto.ChunkSize), min(crypto.ChunkOffset(f.HeaderSize, (y-1)/crypto.ChunkSize+1), ctSize))
		buf := blockPool.Get().(*[]byte)
		data := (*buf)[:y-x]
		if _, err := plain.ReadAt(data, x); err != nil && !(err == io.EOF && y == n) {
			blockPool.Put(buf)
			fail(err)
			return
		}
		select {
		case out <- segment{data: data, buf: buf}:
		case <-ctx.Done():
			blockPool.Put(buf)
			return
		}
		x = y
	}
}

// blockChunks is how many chunks of plaintext a block of a part of a
// segment holds: as many as a streamed block (blockSize).
const blockChunks = 16

func storeError(err error) error {
	switch {
	case errors.Is(err, blobs.ErrMissing):
		return ErrMissing
	case errors.Is(err, crypto.ErrCorrupt):
		return ErrCorrupt
	}
	return err
}

// ErrMissing is ErrCorrupt for a stored segment found missing (not one
// present and failing authentication): what a visit destroyed, or a file
// purged, while it was read leaves, which the caller may take as the end
// of the reader's access rather than damage.
var ErrMissing = fmt.Errorf("%w: a stored segment is missing", ErrCorrupt)

// segmentReader hands out the producer's segments and blocks in order.
type segmentReader struct {
	ch     chan segment
	held   []segment // taken by Open before it returned, not yet read
	cur    segment
	rest   []byte
	ctx    context.Context
	cancel context.CancelFunc
	left   int64 // bytes of the range not yet handed out
	err    error
	whole  *wholeCheck // nil: the file's segments carry their own check
}

// receive takes the producer's next block, checked by wholeCheck when the
// file has one; false when the producer has stopped.
func (r *segmentReader) receive() (segment, bool) {
	seg, ok := <-r.ch
	if ok && r.whole != nil && seg.err == nil {
		if err := r.whole.add(seg); err != nil {
			putBuf(seg.buf)
			seg = segment{err: err}
		}
	}
	return seg, ok
}

func (r *segmentReader) next() error {
	putBuf(r.cur.buf)
	var seg segment
	if len(r.held) > 0 {
		seg, r.held = r.held[0], r.held[1:]
	} else {
		var ok bool
		if seg, ok = r.receive(); !ok {
			r.cur, r.rest = segment{}, nil
			if r.left > 0 {
				// The producer stopped early: the download was called
				// off (the client went), never a complete file.
				return errors.Join(io.ErrUnexpectedEOF, r.ctx.Err())
			}
			if r.whole != nil {
				r.whole.done()
			}
			return io.EOF
		}
	}
	r.cur, r.rest = seg, seg.data
	r.left -= int64(len(seg.data))
	return seg.err
}

func (r *segmentReader) Read(p []byte) (int, error) {
	for len(r.rest) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.err = r.next()
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// WriteTo sends whole segments without an extra copy.
func (r *segmentReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.rest) > 0 {
			n, err := w.Write(r.rest)
			total += int64(n)
			r.rest = r.rest[n:]
			if err != nil {
				return total, err
			}
		}
		if r.err != nil {
			if r.err == io.EOF {
				return total, nil
			}
			return total, r.err
		}
		r.err = r.next()
	}
}

func (r *segmentReader) Close() error {
	r.cancel()
	putBuf(r.cur.buf)
	for _, seg := range r.held {
		putBuf(seg.buf)
	}
	r.cur, r.rest, r.held = segment{}, nil, nil
	// Drain so the producer returns its buffer and exits.
	for seg := range r.ch {
		putBuf(seg.buf)
	}
	return nil
}

// windowReaderAt serves age's random reads of one object with few GETs: the
// planned span of chunks is fetched whole on first touch; other reads (the
// header, the final chunk) fetch a small window around them.
type windowReaderAt struct {
	ctx                context.Context
	blobs              *blobs.Store
	bucket, key        string
	size               int64
	spanStart, spanEnd int64

	mu      sync.Mutex
	windows []window
}

type window struct {
	off  int64
	data []byte
	buf  *[]byte // a planned span's, from blockPool: given back when another is planned
}

// plan makes [start, end) the span fetched whole on first touch, and gives
// back the last one's buffer: a part of a segment is read block by block.
// plan(0, 0) gives it back at the end.
func (w *windowReaderAt) plan(start, end int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.spanStart, w.spanEnd = start, end
	w.windows = slices.DeleteFunc(w.windows, func(win window) bool {
		if win.buf != nil {
			blockPool.Put(win.buf)
		}
		return win.buf != nil
	})
}

const smallWindow = 16 << 10

func (w *windowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= w.size {
		return 0, io.EOF
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	want := min(off+int64(len(p)), w.size)
	for _, win := range w.windows {
		if off >= win.off && want <= win.off+int64(len(win.data)) {
			n := copy(p, win.data[off-win.off:])
			if n < len(p) {
				return n, io.EOF
			}
			return n, nil
		}
	}
	start, stop := off, max(want, min(off+smallWindow, w.size))
	span := off >= w.spanStart && want <= w.spanEnd
	if span {
		start, stop = w.spanStart, w.spanEnd
	}
	body, err := w.blobs.GetRange(w.ctx, w.bucket, w.key, start, stop-start)
	if errors.Is(err, blobs.ErrMissing) {
		// Gone: passed through the age layer as the store's own, so that
		// the reader's caller sees it missing (storeError), as a stream
		// of whole segments does: a file deleted or purged, or a visit
		// destroyed, while it was read, which ends access, not damage.
		return 0, &crypto.SourceError{Err: err}
	}
	if errors.Is(err, blobs.ErrBeyondEnd) {
		// Shorter than it was stored at: the range lies within the
		// recorded size.
		return 0, crypto.ErrCorrupt
	}
	if err != nil {
		return 0, &crypto.SourceError{Err: err}
	}
	defer body.Close()
	if sz, ok := body.(interface{ ObjectSize() int64 }); ok && sz.ObjectSize() >= 0 && sz.ObjectSize() != w.size {
		return 0, crypto.ErrCorrupt // the object is not the length it was stored at
	}
	var buf *[]byte
	var data []byte
	if span && stop-start <= blockSize {
		buf = blockPool.Get().(*[]byte)
		data = (*buf)[:stop-start]
	} else {
		data = make([]byte, stop-start)
	}
	if _, err := io.ReadFull(body, data); err != nil {
		if buf != nil {
			blockPool.Put(buf)
		}
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return 0, crypto.ErrCorrupt // shorter than its metadata says
		}
		return 0, err
	}
	w.windows = append(w.windows, window{off: start, data: data, buf: buf})
	n := copy(p, data[off-start:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

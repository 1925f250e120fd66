// Package crypto holds the portal's cryptographic envelope: the master key that
// wraps visit keys, the visit keys themselves, the age encryption of evidence
// segments and the sealing of names and free text.
//
// Invariants:
//
//   - Every visit has its own age hybrid post-quantum identity (ML-KEM-768 +
//     X25519). Evidence is encrypted to that identity's recipient only.
//   - A visit identity exists outside memory only wrapped: age-encrypted to the
//     master recipient(s). The master identity lives in a file the operator
//     controls, never in the database or on a command line.
//   - Names and free text are sealed with XChaCha20-Poly1305 under a key derived
//     from the visit identity, so destroying the wrapped identity (and dropping
//     it from memory) makes the evidence, its names and its descriptions
//     unreadable together: crypto-shredding.
//   - Evidence is stored in segments; each segment is a complete age file whose
//     size is known before it is written, so a store can take it in one
//     streaming request.
//   - Nothing unauthenticated is returned: age itself reads headers and whole
//     segments; PayloadReader, which decrypts age's payload block by block for
//     downloads, authenticates each chunk before returning any of it and knows
//     the final chunk from the recorded size, so truncation, extension and
//     reordering fail like any other change.
//
// Threat model: an attacker who obtains the object store (every copy, version
// and replica) learns only segment sizes and counts. An attacker who obtains a
// database backup learns visit references and dates, and holds wrapped keys
// that are useless without the master identity. Errors from decryption carry
// fixed messages that reveal nothing about the key or the plaintext.
package crypto

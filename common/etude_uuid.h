/* etude_uuid.h - entity and batch identifiers: random (version 4) UUIDs in lowercase text.
 *
 * Threads: [any]; no shared state (libsodium's random generator is thread-safe).
 */
#ifndef ETUDE_UUID_H
#define ETUDE_UUID_H

#ifdef __cplusplus
extern "C" {
#endif

/* Characters of a UUID, NUL included. */
#define ETUDE_UUID_LEN 37

/* [any] A new random version 4 UUID (libsodium randombytes), lowercase 8-4-4-4-12, into out.
 * Aborts only if libsodium cannot initialise (no entropy source), as it must not hand out
 * predictable ids. */
void etude_uuid_new(char out[ETUDE_UUID_LEN]);

/* [any] Nonzero if s is exactly 36 characters of lowercase hex digits in the 8-4-4-4-12 form.
 * Uppercase, braces, missing dashes or surrounding space are refused. The version and variant
 * digits are not checked, so identifiers written by any UUID generator are kept. NULL: 0. */
int etude_uuid_valid(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* ETUDE_UUID_H */

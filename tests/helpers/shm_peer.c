/* shm_peer.c - an unrelated program (started with posix_spawn, not forked)
 * that meets test_shared through a named shared memory block.
 *
 *   shm_peer attach NAME SIZE SEED  attach NAME; its size must be SIZE and
 *                                   its first half pattern(SEED); write
 *                                   pattern(SEED + 1) into the second half
 *   shm_peer create NAME SIZE SEED  create NAME with SIZE bytes of
 *                                   pattern(SEED), close, leave it there
 *
 * pattern(seed) at byte i is (i * 31 + seed) & 0xff. Exit status: 0 ok,
 * 2 usage, 3 attach/create failed, 4 wrong size, 5 wrong bytes, 6 close
 * failed. Neither mode ever unlinks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"

static unsigned char pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 31 + seed) & 0xff);
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    const char *mode = argv[1], *name = argv[2];
    size_t size = strtoull(argv[3], NULL, 10);
    unsigned seed = (unsigned)strtoul(argv[4], NULL, 10);
    mp_shm *s;

    if (strcmp(mode, "attach") == 0) {
        if ((s = mp_shm_attach(name)) == NULL) {
            fprintf(stderr, "shm_peer: attach %s: %s\n", name, strerror(errno));
            return 3;
        }
        if (mp_shm_size(s) != size)
            return 4;
        unsigned char *b = mp_shm_buf(s);
        for (size_t i = 0; i < size / 2; i++)
            if (b[i] != pattern(i, seed))
                return 5;
        for (size_t i = size / 2; i < size; i++)
            b[i] = pattern(i, seed + 1);
    } else if (strcmp(mode, "create") == 0) {
        if ((s = mp_shm_create(name, size)) == NULL) {
            fprintf(stderr, "shm_peer: create %s: %s\n", name, strerror(errno));
            return 3;
        }
        unsigned char *b = mp_shm_buf(s);
        for (size_t i = 0; i < size; i++)
            b[i] = pattern(i, seed);
    } else {
        return 2;
    }
    return mp_shm_close(s) == 0 ? 0 : 6;
}

/* jack_oscq.c - sends one OSC message (or raw bytes) to etude play's OSC port and prints the reply,
 * for etude's live tests.
 *
 *   jack_oscq PORT PATH [TYPES [ARG...]]   TYPES from i f d s h T F; prints "REPLYPATH ARG..."
 *   jack_oscq PORT --raw TEXT              sends TEXT's bytes as a datagram (a malformed packet)
 *
 * Waits up to 3 s for the reply; exits 0 when one came, 1 otherwise, 2 on bad usage.
 */
#include <lo/lo.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int got;

static int on_reply(const char *path, const char *types, lo_arg **argv, int argc, lo_message m, void *u)
{
    (void)m;
    (void)u;
    printf("%s", path);
    for (int i = 0; i < argc; i++) {
        /* liblo's argument pointers are 4-byte aligned: copy values out */
        const void *a = argv[i];
        int32_t iv;
        float fv;
        double dv;
        int64_t hv;
        switch (types[i]) {
        case 's': printf(" %s", (const char *)a); break;
        case 'i': memcpy(&iv, a, sizeof iv); printf(" %d", iv); break;
        case 'f': memcpy(&fv, a, sizeof fv); printf(" %g", fv); break;
        case 'd': memcpy(&dv, a, sizeof dv); printf(" %g", dv); break;
        case 'h': memcpy(&hv, a, sizeof hv); printf(" %lld", (long long)hv); break;
        default: printf(" <%c>", types[i]);
        }
    }
    printf("\n");
    got = 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    lo_server s = lo_server_new(NULL, NULL);
    lo_address a = lo_address_new("127.0.0.1", argv[1]);
    if (!s || !a)
        return 1;
    lo_server_add_method(s, NULL, NULL, on_reply, NULL);
    if (!strcmp(argv[2], "--raw")) {
        if (argc != 4)
            return 2;
        /* send the raw bytes from the server's socket so the reply comes back here */
        int fd = lo_server_get_socket_fd(s);
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)atoi(argv[1]));
        sin.sin_addr.s_addr = htonl(0x7f000001);
        printf("raw: ");
        sendto(fd, argv[3], strlen(argv[3]), 0, (struct sockaddr *)&sin, sizeof sin);
    } else {
        lo_message m = lo_message_new();
        const char *types = argc > 3 ? argv[3] : "";
        for (int i = 0; types[i]; i++) {
            const char *v = 4 + i < argc ? argv[4 + i] : NULL;
            if (!v && types[i] != 'T' && types[i] != 'F')
                return 2;
            switch (types[i]) {
            case 'i': lo_message_add_int32(m, atoi(v)); break;
            case 'f': lo_message_add_float(m, (float)atof(v)); break;
            case 'd': lo_message_add_double(m, atof(v)); break;
            case 'h': lo_message_add_int64(m, atoll(v)); break;
            case 's': lo_message_add_string(m, v); break;
            case 'T': lo_message_add_true(m); break;
            case 'F': lo_message_add_false(m); break;
            default: return 2;
            }
        }
        lo_send_message_from(a, s, argv[2], m);
        lo_message_free(m);
    }
    for (int i = 0; i < 30 && !got; i++)
        lo_server_recv_noblock(s, 100);
    lo_address_free(a);
    lo_server_free(s);
    return got ? 0 : 1;
}

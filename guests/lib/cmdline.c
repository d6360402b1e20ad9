/*
 * cmdline.c - words from start_info->cmd_line ("key=value key2 ...").
 */
#include "guest.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *cmdline(void)
{
    return start_info ? start_info->cmd_line : "";
}

/* Find the word starting with key followed by '=' or a separator. */
static const char *find_word(const char *key, const char **value)
{
    const char *p = cmdline(), *end = p + strnlen(p, MAX_GUEST_CMDLINE);
    size_t klen = strlen(key);

    while ( p < end )
    {
        while ( p < end && is_space(*p) )
            p++;
        if ( p >= end )
            break;
        if ( (size_t)(end - p) >= klen && !strncmp(p, key, klen) &&
             (p + klen == end || p[klen] == '=' || is_space(p[klen])) )
        {
            *value = (p + klen < end && p[klen] == '=') ? p + klen + 1 : p + klen;
            return p;
        }
        while ( p < end && !is_space(*p) )
            p++;
    }
    return NULL;
}

bool cmdline_get(const char *key, char *buf, size_t size)
{
    const char *v, *end;
    size_t n = 0;

    if ( !find_word(key, &v) )
        return false;
    end = cmdline() + strnlen(cmdline(), MAX_GUEST_CMDLINE);
    while ( v < end && !is_space(*v) )
    {
        if ( n + 1 < size )
            buf[n++] = *v;
        v++;
    }
    if ( size )
        buf[n] = '\0';
    return true;
}

bool cmdline_has(const char *word)
{
    const char *v;

    return find_word(word, &v) != NULL;
}

/*
 * console.c - formatted output through CONSOLEIO_write (console_io 18, cmd 0).
 *
 * printk() buffers one line and writes it when it sees '\n', so each console
 * line normally reaches the hypervisor in one hypercall.
 */
#include "guest.h"
#include "hypercall.h"

void console_write(const char *s, size_t len)
{
    /* The result is ignored on purpose: a domU without console rights gets
     * -EPERM from real Xen and there is nowhere else to complain. */
    while ( len )
    {
        size_t chunk = len > 1024 ? 1024 : len;

        hc_console_io(CONSOLEIO_write, chunk, s);
        s += chunk;
        len -= chunk;
    }
}

static char line_buf[256];
static size_t line_len;

void console_flush(void)
{
    if ( line_len )
    {
        console_write(line_buf, line_len);
        line_len = 0;
    }
}

static void console_putc(char c)
{
    line_buf[line_len++] = c;
    if ( c == '\n' || line_len == sizeof(line_buf) )
        console_flush();
}

/* ---- formatting ---- */

struct out {
    char *buf;          /* NULL: send to the console */
    size_t size;
    size_t len;         /* characters produced (may exceed size) */
};

static void out_char(struct out *o, char c)
{
    if ( !o->buf )
        console_putc(c);
    else if ( o->len + 1 < o->size )
        o->buf[o->len] = c;
    o->len++;
}

static void out_str(struct out *o, const char *s, int width, bool left)
{
    int n = (int)strlen(s);

    if ( !left )
        for ( ; width > n; width-- )
            out_char(o, ' ');
    while ( *s )
        out_char(o, *s++);
    for ( ; width > n; width-- )
        out_char(o, ' ');
}

static void out_num(struct out *o, unsigned long v, unsigned int base, bool neg,
                    bool upper, int width, bool zero, bool left)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0, total;

    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while ( v );

    total = n + (neg ? 1 : 0);
    if ( !left && !zero )
        for ( ; width > total; width-- )
            out_char(o, ' ');
    if ( neg )
        out_char(o, '-');
    if ( !left && zero )
        for ( ; width > total; width-- )
            out_char(o, '0');
    while ( n )
        out_char(o, tmp[--n]);
    for ( ; width > total; width-- )
        out_char(o, ' ');
}

static void format(struct out *o, const char *fmt, va_list ap)
{
    for ( ; *fmt; fmt++ )
    {
        bool zero = false, left = false, alt = false;
        int width = 0, lng = 0;

        if ( *fmt != '%' )
        {
            out_char(o, *fmt);
            continue;
        }
        fmt++;

        for ( ;; fmt++ )
        {
            if ( *fmt == '0' )
                zero = true;
            else if ( *fmt == '-' )
                left = true;
            else if ( *fmt == '#' )
                alt = true;
            else
                break;
        }
        while ( *fmt >= '0' && *fmt <= '9' )
            width = width * 10 + (*fmt++ - '0');
        while ( *fmt == 'l' || *fmt == 'z' )
        {
            lng++;
            fmt++;
        }

        switch ( *fmt )
        {
        case 'd':
        case 'i':
        {
            long v = lng ? va_arg(ap, long) : va_arg(ap, int);
            bool neg = v < 0;

            out_num(o, neg ? -(unsigned long)v : (unsigned long)v, 10, neg,
                    false, width, zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        {
            unsigned long v = lng ? va_arg(ap, unsigned long)
                                  : va_arg(ap, unsigned int);

            if ( alt && *fmt != 'u' )
            {
                out_char(o, '0');
                out_char(o, 'x');
                width -= 2;
            }
            out_num(o, v, *fmt == 'u' ? 10 : 16, false, *fmt == 'X',
                    width, zero, left);
            break;
        }
        case 'p':
            out_char(o, '0');
            out_char(o, 'x');
            out_num(o, (unsigned long)va_arg(ap, void *), 16, false, false,
                    16, true, false);
            break;
        case 's':
        {
            const char *s = va_arg(ap, const char *);

            out_str(o, s ? s : "(null)", width, left);
            break;
        }
        case 'c':
            out_char(o, (char)va_arg(ap, int));
            break;
        case '%':
            out_char(o, '%');
            break;
        case '\0':
            return;
        default:                 /* unknown: print it literally */
            out_char(o, '%');
            out_char(o, *fmt);
            break;
        }
    }
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { .buf = buf, .size = size };

    format(&o, fmt, ap);
    if ( size )
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int vprintk(const char *fmt, va_list ap)
{
    struct out o = { .buf = NULL };

    format(&o, fmt, ap);
    return (int)o.len;
}

int printk(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vprintk(fmt, ap);
    va_end(ap);
    return n;
}

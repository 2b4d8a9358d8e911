#include "midiport.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <portmidi.h>
#include <porttime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "player.h"

int midi_init(void)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY);
    if (saved >= 0 && devnull >= 0)
        dup2(devnull, STDERR_FILENO);
    PmError rc = Pm_Initialize();
    if (saved >= 0 && devnull >= 0)
        dup2(saved, STDERR_FILENO);
    if (saved >= 0)
        close(saved);
    if (devnull >= 0)
        close(devnull);
    if (rc != pmNoError)
        return -1;
    if (!Pt_Started() && Pt_Start(1, NULL, NULL) != ptNoError) {
        Pm_Terminate();
        return -1;
    }
    return 0;
}

void midi_terminate(void)
{
    Pm_Terminate();
    if (Pt_Started())
        Pt_Stop();
}

static int has_direction(const PmDeviceInfo *info, int want_output)
{
    return info && (want_output ? info->output : info->input);
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return n == 0;
}

int midi_find_device(const char *spec, int want_output)
{
    const int count = Pm_CountDevices();
    char *end;
    errno = 0;
    long idx = strtol(spec, &end, 10);
    if (*spec && !*end && !errno && isdigit((unsigned char)spec[0]))
        return idx < count && has_direction(Pm_GetDeviceInfo((PmDeviceID)idx), want_output) ? (int)idx : -1;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < count; i++) {
            const PmDeviceInfo *info = Pm_GetDeviceInfo(i);
            if (!has_direction(info, want_output) || !info->name)
                continue;
            if (pass == 0 ? strcasecmp(info->name, spec) == 0 : contains_nocase(info->name, spec))
                return i;
        }
    return -1;
}

void midi_clock_init(midi_clock *c)
{
    c->pt0_us = (int64_t)Pt_Time() * 1000;
    c->mono0_us = player_monotonic_us(NULL);
}

int64_t midi_clock_now_us(void *ctx)
{
    const midi_clock *c = ctx;
    return c->pt0_us + (player_monotonic_us(NULL) - c->mono0_us);
}

int midi_output_send(void *stream, const player_event *ev, int64_t at_us)
{
    PmTimestamp ts = (PmTimestamp)((at_us + 500) / 1000);
    return Pm_WriteShort((PortMidiStream *)stream, ts, Pm_Message(ev->status, ev->data1, ev->data2)) == pmNoError
               ? 0
               : -1;
}

int midi_input_poll(void *stream, player_event *evs, int max)
{
    PmEvent buf[64];
    int n = 0;
    if (max > 64)
        max = 64;
    int got = Pm_Read((PortMidiStream *)stream, buf, max);
    if (got < 0)
        return -1;
    for (int i = 0; i < got; i++) {
        const uint8_t status = (uint8_t)Pm_MessageStatus(buf[i].message);
        if ((status & 0xE0) != 0x80) /* 0x80..0x9F: note-off and note-on */
            continue;
        player_event *ev = &evs[n++];
        ev->due_us = (int64_t)buf[i].timestamp * 1000;
        ev->turn = 0;
        ev->status = status;
        ev->data1 = (uint8_t)Pm_MessageData1(buf[i].message);
        ev->data2 = (uint8_t)Pm_MessageData2(buf[i].message);
    }
    return n;
}

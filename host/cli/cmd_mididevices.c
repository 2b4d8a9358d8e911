/* rnnhost midi-devices: the MIDI inputs and outputs PortMidi sees, for --input-port and --output-port. */
#include <cjson/cJSON.h>
#include <portmidi.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "hostlog.h"
#include "jsonout.h"
#include "optgroups.h"
#include "player.h"

static const cli_page page = {
    .head = "usage: rnnhost midi-devices [--json]\n"
            "\n"
            "Lists the MIDI inputs and outputs (through PortMidi): the index or the name goes to\n"
            "'rnnhost play --output-port' and '--input-port'. A machine without MIDI ports lists none and\n"
            "that is not an error (exit 0).\n"
            "\n",
    .tail = "\nWith --json: {\"schema\":1,\"devices\":[{\"index\",\"name\",\"interface\",\"input\",\"output\","
            "\"opened\"}]}.\n",
};

int cmd_mididevices(int argc, char **argv)
{
    opt_json json;
    cli_group groups[] = {OPT_GROUP(opt_json_section, &json, &opt_json_defaults)};
    const int started = cli_start(groups, CLI_COUNT(groups), argc, argv, NULL, &page);
    if (started >= 0)
        return started;
    if (midi_init() != 0) {
        hostlog_error("midi-devices: PortMidi could not start");
        return EXIT_FAIL;
    }
    const int count = Pm_CountDevices();
    int rc = EXIT_OK;
    if (json.on) {
        cJSON *root = cJSON_CreateObject(), *list = NULL;
        if (root && cJSON_AddNumberToObject(root, "schema", 1) &&
            (list = cJSON_AddArrayToObject(root, "devices")) != NULL) {
            for (int i = 0; i < count; i++) {
                const PmDeviceInfo *info = Pm_GetDeviceInfo(i);
                cJSON *d = cJSON_CreateObject();
                if (!info || !d || !cJSON_AddItemToArray(list, d)) {
                    cJSON_Delete(d);
                    list = NULL;
                    break;
                }
                cJSON_AddNumberToObject(d, "index", i);
                cJSON_AddStringToObject(d, "name", info->name ? info->name : "");
                cJSON_AddStringToObject(d, "interface", info->interf ? info->interf : "");
                cJSON_AddBoolToObject(d, "input", info->input != 0);
                cJSON_AddBoolToObject(d, "output", info->output != 0);
                cJSON_AddBoolToObject(d, "opened", info->opened != 0);
            }
        }
        if (json_print(root, list != NULL, 0) != 0)
            rc = EXIT_FAIL;
    } else if (count == 0) {
        printf("no MIDI devices (this machine has no MIDI ports; use 'rnnhost generate -o FILE.mid' instead)\n");
    } else {
        printf("%-5s  %-6s  %-10s  %s\n", "index", "kind", "interface", "name");
        for (int i = 0; i < count; i++) {
            const PmDeviceInfo *info = Pm_GetDeviceInfo(i);
            if (!info)
                continue;
            const char *kind = info->input && info->output ? "in+out" : info->input ? "input" : "output";
            printf("%-5d  %-6s  %-10s  %s%s\n", i, kind, info->interf ? info->interf : "",
                   info->name ? info->name : "", info->opened ? " (opened)" : "");
        }
    }
    midi_terminate();
    return rc;
}

/* rnnhost plugins: what the search path offers, and what failed to load and why. */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "hostlog.h"
#include "jsonout.h"
#include "loader.h"
#include "optgroups.h"

static const cli_page page = {
    .head = "usage: rnnhost plugins [--json] [--plugin-path PATH]\n"
            "\n"
            "Lists every plugin on the search path with its models, and every plugin that failed to load.\n"
            "\n",
    .tail = "\n"
            "With --json: {\"schema\": 1, \"plugins\": [...], \"errors\": [...]}.\n"
            "Exit status: 0 when every plugin loaded, 3 when one could not be loaded, 2 on a usage error.\n",
};

static cJSON *inputs_json(uint32_t kinds)
{
    cJSON *a = cJSON_CreateArray();
    if (kinds & RH_INPUT_DENSE)
        cJSON_AddItemToArray(a, cJSON_CreateString("dense"));
    if (kinds & RH_INPUT_TOKENS)
        cJSON_AddItemToArray(a, cJSON_CreateString("tokens"));
    return a;
}

static int print_json(const plugin_registry *r)
{
    cJSON *root = cJSON_CreateObject(), *plugins, *errors;
    size_t k;
    uint32_t i;
    cJSON_AddNumberToObject(root, "schema", 1);
    plugins = cJSON_AddArrayToObject(root, "plugins");
    for (k = 0; k < r->num_plugins; k++) {
        const host_plugin *p = r->plugins[k];
        cJSON *o = cJSON_CreateObject(), *models;
        cJSON_AddStringToObject(o, "path", p->path);
        cJSON_AddStringToObject(o, "id", p->id);
        cJSON_AddStringToObject(o, "name", p->name);
        cJSON_AddStringToObject(o, "vendor", p->vendor);
        cJSON_AddStringToObject(o, "version", p->version);
        cJSON_AddNumberToObject(o, "abi_version", p->entry.abi_version);
        models = cJSON_AddArrayToObject(o, "models");
        for (i = 0; i < p->num_models; i++) {
            const host_model_desc *m = &p->models[i];
            cJSON *mo = cJSON_CreateObject();
            cJSON_AddStringToObject(mo, "id", m->id);
            cJSON_AddStringToObject(mo, "name", m->name);
            cJSON_AddStringToObject(mo, "version", m->version);
            cJSON_AddStringToObject(mo, "description", m->description);
            cJSON_AddItemToObject(mo, "inputs", inputs_json(m->input_kinds));
            cJSON_AddBoolToObject(mo, "composite", (m->flags & RH_MODEL_COMPOSITE) != 0);
            cJSON_AddItemToArray(models, mo);
        }
        cJSON_AddItemToArray(plugins, o);
    }
    errors = cJSON_AddArrayToObject(root, "errors");
    for (k = 0; k < r->num_errors; k++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "path", r->errors[k].path);
        cJSON_AddStringToObject(e, "error", r->errors[k].error);
        cJSON_AddItemToArray(errors, e);
    }
    return json_print(root, 1, 1);
}

static void print_text(const plugin_registry *r)
{
    size_t k;
    uint32_t i;
    if (r->num_plugins == 0)
        printf("no plugins found\n");
    for (k = 0; k < r->num_plugins; k++) {
        const host_plugin *p = r->plugins[k];
        printf("%s %s (%s, %s, ABI %u)\n  %s\n", p->id, p->version, p->name, p->vendor, p->entry.abi_version,
               p->path);
        for (i = 0; i < p->num_models; i++) {
            const host_model_desc *m = &p->models[i];
            printf("  model %s %s [%s%s]: %s: %s\n", m->id, m->version, input_kinds_name(m->input_kinds),
                   (m->flags & RH_MODEL_COMPOSITE) ? ", composite" : "", m->name, m->description);
        }
    }
}

int cmd_plugins(int argc, char **argv)
{
    opt_json json;
    opt_plugin plugin;
    cli_group groups[] = {
        OPT_GROUP(opt_json_section, &json, &opt_json_defaults),
        OPT_GROUP(opt_plugin_section, &plugin, &opt_plugin_defaults),
    };
    plugin_registry reg;
    int rc = cli_start(groups, CLI_COUNT(groups), argc, argv, NULL, &page);
    if (rc >= 0)
        return rc;
    if (registry_init(&reg, plugin.path) != 0) {
        registry_free(&reg);
        hostlog_error("out of memory");
        return EXIT_FAIL;
    }
    registry_load_search_path(&reg);
    if (json.on) {
        if (print_json(&reg) != 0) {
            registry_free(&reg);
            return EXIT_FAIL;
        }
    } else {
        print_text(&reg);
    }
    fflush(stdout);
    for (size_t k = 0; k < reg.num_errors; k++)
        hostlog_error("cannot load plugin %s: %s", reg.errors[k].path, reg.errors[k].error);
    rc = reg.num_errors ? EXIT_LOAD : EXIT_OK;
    registry_free(&reg);
    return rc;
}

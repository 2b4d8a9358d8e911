/* The subcommands. Each is one file, cmd_NAME.c, with the signature of main: argv[0] is the command
 * name. Adding a command is one line here and one row in main.c's table. */
#ifndef RNNHOST_COMMANDS_H
#define RNNHOST_COMMANDS_H

int cmd_plugins(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_mididevices(int argc, char **argv);
int cmd_play(int argc, char **argv);
int cmd_pianoroll(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_transcribe(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_presets(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_tag(int argc, char **argv);

#endif /* RNNHOST_COMMANDS_H */

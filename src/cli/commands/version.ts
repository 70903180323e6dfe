import type { CommandSpec } from '../command.js';
import { PROTOCOL_VERSION, VERSION } from '../../common/version.js';

export const version: CommandSpec = {
  name: 'version',
  aliases: ['v'],
  summary: 'Show the version and where zmx keeps things',
  args: [],
  options: [],
  async run(ctx) {
    ctx.out(`zmx\t\t${VERSION}\nprotocol\t${PROTOCOL_VERSION}\nnode\t\t${process.versions.node}\nsocket_dir\t${ctx.paths.dir}\nlog_dir\t\t${ctx.paths.dir}\n`);
    return 0;
  },
};

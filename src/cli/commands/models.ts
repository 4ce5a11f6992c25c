import { Command } from 'commander';
import { toModelVersion } from '../../app/mapping.ts';
import { activateVersion, listVersions, rollback } from '../../model/registry.ts';
import { integer } from '../parse.ts';

const percent = (v: number | null) => (v === null ? '   –  ' : `${(v * 100).toFixed(1).padStart(5)}%`);

export function modelsCommand(): Command {
  const models = new Command('models').description('list model versions, activate one, roll back');
  models
    .command('list')
    .description('every model version with its accuracy on CIFAR and on held-out local images')
    .option('--json', 'print JSON')
    .action(async (opts) => {
      const versions = (await listVersions()).map(toModelVersion);
      if (opts.json) return console.log(JSON.stringify(versions));
      console.log('   id  name      mode       CIFAR   local (n)   created');
      for (const v of versions) {
        const local = `${percent(v.localAccuracy)} (${v.localHoldoutSize})`;
        console.log(
          `${v.active ? '*' : ' '} ${String(v.id).padStart(3)}  ${v.name.padEnd(8)}  ${v.mode.padEnd(9)}  ${percent(v.cifarAccuracy)}  ${local.padEnd(11)} ${v.createdAt}`,
        );
      }
    });
  models
    .command('activate')
    .description('make a version the one the watcher and the CLI use')
    .argument('<id>', 'version id (see `models list`)', integer)
    .action(async (id: number) => {
      const version = await activateVersion(id);
      console.log(`Active model: ${version.name} (${version.dir})`);
    });
  models
    .command('rollback')
    .description('activate the version before the active one')
    .action(async () => {
      const version = await rollback();
      console.log(`Rolled back; active model: ${version.name} (${version.dir})`);
    });
  return models;
}

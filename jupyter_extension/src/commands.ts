/** The extension's commands: Export (palette, File menu, notebook toolbar) and Show panel. */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type { IMainMenu } from '@jupyterlab/mainmenu';
import type { INotebookTracker } from '@jupyterlab/notebook';

import { exportNotebook, type IExportServices } from './exportDialog';
import { nb2prodIcon } from './icon';

export const CommandIds = {
  export: 'nb2prod:export',
  showPanel: 'nb2prod:show-panel'
} as const;

const CATEGORY = 'nb2prod';

export function registerCommands(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  services: IExportServices,
  palette: ICommandPalette | null,
  mainMenu: IMainMenu | null
): void {
  app.commands.addCommand(CommandIds.export, {
    label: 'Export to Production Project…',
    caption: 'Convert this notebook into a packaged, tested project (nb2prod)',
    icon: nb2prodIcon,
    isEnabled: () => tracker.currentWidget !== null,
    execute: async () => {
      const notebook = tracker.currentWidget;
      if (notebook) {
        await exportNotebook(notebook, services);
      }
    }
  });
  app.commands.addCommand(CommandIds.showPanel, {
    label: 'Show nb2prod Cell Roles',
    execute: () => app.shell.activateById(services.panel.id)
  });
  tracker.currentChanged.connect(() => app.commands.notifyCommandChanged(CommandIds.export));

  for (const command of Object.values(CommandIds)) {
    palette?.addItem({ command, category: CATEGORY });
  }
  mainMenu?.fileMenu.addGroup([{ command: CommandIds.export }], 40);
}

/**
 * nb2prod's JupyterLab front end: the cell-roles panel and Export.
 *
 * All of nb2prod's logic runs on the server (nb2prod/server); see api.ts.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { CommandToolbarButton, ICommandPalette } from '@jupyterlab/apputils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';

import * as api from './api';
import { CommandIds, registerCommands } from './commands';
import { RolesPanel } from './panel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nb2prod:plugin',
  description: 'Cell roles and problems in a side panel, and Export to a production project.',
  autoStart: true,
  requires: [INotebookTracker, IDocumentManager],
  optional: [ICommandPalette, IMainMenu],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    docManager: IDocumentManager,
    palette: ICommandPalette | null,
    mainMenu: IMainMenu | null
  ) => {
    const panel = new RolesPanel(tracker, api.roles());
    app.shell.add(panel, 'right', { rank: 600 });
    registerCommands(app, tracker, { docManager, panel }, palette, mainMenu);
    tracker.widgetAdded.connect((_, notebook: NotebookPanel) => {
      const button = new CommandToolbarButton({
        commands: app.commands,
        id: CommandIds.export,
        label: 'Export'
      });
      notebook.toolbar.insertAfter('cellType', 'nb2prod-export', button);
    });
  }
};

export default plugin;

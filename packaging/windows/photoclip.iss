; Inno Setup script: wraps the PyInstaller one-folder bundle (dist\photoclip) in an installer.
; Build on Windows after `pyinstaller packaging\photoclip.spec`:
;   iscc /DMyAppVersion=0.1.0 packaging\windows\photoclip.iss
#ifndef MyAppVersion
  #define MyAppVersion "0.1.0"
#endif

[Setup]
AppId={{6C1F3A52-8E0B-4C4B-9E53-0A9B7D5F2C11}
AppName=photoclip
AppVersion={#MyAppVersion}
AppPublisher=photoclip developers
DefaultDirName={autopf}\photoclip
DefaultGroupName=photoclip
OutputDir=..\..\dist
OutputBaseFilename=photoclip-{#MyAppVersion}-setup
SetupIconFile=photoclip.ico
Compression=lzma2/fast
SolidCompression=no
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
WizardStyle=modern

[Files]
Source: "..\..\dist\photoclip\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\photoclip"; Filename: "{app}\photoclip-gui.exe"
Name: "{autodesktop}\photoclip"; Filename: "{app}\photoclip-gui.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop icon"; Flags: unchecked

[Registry]
; `photoclip` (the console launcher) on PATH for the command line.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; \
  ValueData: "{olddata};{app}"; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\photoclip-gui.exe"; Description: "Start photoclip"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var Paths: string;
begin
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Paths) then begin Result := True; exit; end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;

<#
.SYNOPSIS
Installs flinkdrop as a Windows service. Safe to run again.

.DESCRIPTION
Run from an elevated PowerShell (Run as Administrator).

  - Copies flinkdrop.exe to "$env:ProgramFiles\flinkdrop".
  - Lays out "$env:ProgramData\flinkdrop": config.yaml, state\ and logs\,
    readable only by SYSTEM (the service's account, LocalSystem) and
    Administrators, since the config and any secret files beside it hold
    credentials. Keep secrets as client_secret_file / api_key_file /
    pfx_password_file next to config.yaml.
  - Creates the local inbox, outbox, archive and failed folders the config
    names and gives SYSTEM modify rights on them.
  - Runs "flinkdrop.exe service install --config <config.yaml>" (automatic
    delayed start, restart 5 s after a failure), "flinkdrop.exe check", then
    starts the service.
Running it again stops the service, upgrades the binary, reinstalls the
service and starts it.

File shares: write inboxes on shares as UNC paths (\\server\share\inbox).
A service does not see drive letters mapped in a user's session, so a path
like S:\inbox works from your prompt and fails in the service; the script
warns about them. LocalSystem reaches shares as the computer account
(DOMAIN\COMPUTER$): grant that account modify rights on the share and its
folders, or run the service as a domain account that has them
(services.msc > flinkdrop > Log On).

.PARAMETER Binary
flinkdrop.exe to install. Default: .\flinkdrop.exe, else
dist\flinkdrop-windows-<arch>.exe next to this script.

.PARAMETER Config
A config file to install as "$env:ProgramData\flinkdrop\config.yaml". An
existing config is kept unless -ReplaceConfig is given.

.PARAMETER ReplaceConfig
Overwrite an existing config.yaml with -Config.

.PARAMETER NoStart
Install everything, but do not run check or start the service.

.PARAMETER Help
Show this help.

.EXAMPLE
.\scripts\install-windows.ps1 -Binary .\dist\flinkdrop-windows-amd64.exe -Config .\config.yaml
#>
[CmdletBinding()]
param(
    [string]$Binary,
    [string]$Config,
    [switch]$ReplaceConfig,
    [switch]$NoStart,
    [Alias('h')][switch]$Help
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

if ($Help) {
    Get-Help -Detailed $PSCommandPath
    exit 0
}

$ServiceName = 'flinkdrop'
$InstallDir = Join-Path $env:ProgramFiles 'flinkdrop'
$Exe = Join-Path $InstallDir 'flinkdrop.exe'
$DataDir = Join-Path $env:ProgramData 'flinkdrop'
$ConfFile = Join-Path $DataDir 'config.yaml'
$StateDir = Join-Path $DataDir 'state'
$LogDir = Join-Path $DataDir 'logs'
# Well-known SIDs, so the script works on every display language.
$SidSystem = '*S-1-5-18'
$SidAdmins = '*S-1-5-32-544'

function Write-Step([string]$Message) { Write-Host "install: $Message" }
function Write-Warn([string]$Message) { Write-Warning "install: $Message" }

# Invoke-Native runs a program and throws when it exits non-zero.
function Invoke-Native {
    param([string]$FilePath, [string[]]$Arguments, [string]$What)
    & $FilePath @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "install: $What failed (exit code $LASTEXITCODE)"
    }
}

$principal = [Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'install: run this from an elevated PowerShell (Run as Administrator)'
}

# --- the binary --------------------------------------------------------------
if (-not $Binary) {
    $arch = if ($env:PROCESSOR_ARCHITECTURE -eq 'ARM64') { 'arm64' } else { 'amd64' }
    $candidates = @(
        (Join-Path (Get-Location) 'flinkdrop.exe'),
        (Join-Path $PSScriptRoot "..\dist\flinkdrop-windows-$arch.exe")
    )
    $Binary = $candidates | Where-Object { Test-Path -LiteralPath $_ -PathType Leaf } | Select-Object -First 1
    if (-not $Binary) {
        throw 'install: no flinkdrop.exe found: build one with scripts/build.sh or pass -Binary FILE'
    }
}
if (-not (Test-Path -LiteralPath $Binary -PathType Leaf)) {
    throw "install: binary ${Binary}: no such file (pass -Binary FILE)"
}
$Binary = (Resolve-Path -LiteralPath $Binary).Path

# --- stop a running service before replacing its executable ------------------
$existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($existing -and $existing.Status -ne 'Stopped') {
    Write-Step "stopping the $ServiceName service"
    Stop-Service -Name $ServiceName -Force
    $existing.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(30))
}

New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
if ($Binary -ne $Exe) {
    Copy-Item -LiteralPath $Binary -Destination $Exe -Force
}
Write-Step "installed $Exe ($(& $Exe version))"

# --- ProgramData layout and ACLs ---------------------------------------------
foreach ($dir in @($DataDir, $StateDir, $LogDir)) {
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
}
# Only SYSTEM and Administrators: the config and secret files live here.
Invoke-Native icacls.exe @($DataDir, '/inheritance:r', '/grant:r', "${SidSystem}:(OI)(CI)F", "${SidAdmins}:(OI)(CI)F", '/C', '/Q') "setting the ACL of $DataDir"

if ($Config) {
    if (-not (Test-Path -LiteralPath $Config -PathType Leaf)) {
        throw "install: config ${Config}: no such file"
    }
    if (-not (Test-Path -LiteralPath $ConfFile) -or $ReplaceConfig) {
        Copy-Item -LiteralPath $Config -Destination $ConfFile -Force
        Write-Step "installed $ConfFile"
    } elseif ((Get-FileHash -LiteralPath $Config).Hash -ne (Get-FileHash -LiteralPath $ConfFile).Hash) {
        Write-Warn "kept the existing $ConfFile (differs from $Config; pass -ReplaceConfig to overwrite)"
    }
}
if (-not (Test-Path -LiteralPath $ConfFile)) {
    $example = Join-Path $PSScriptRoot '..\config.example.yaml'
    if (-not (Test-Path -LiteralPath $example)) {
        throw 'install: no config: pass -Config FILE'
    }
    Copy-Item -LiteralPath $example -Destination $ConfFile
    Write-Warn "installed the example config as ${ConfFile}: edit it (credentials, folders, state_dir $StateDir, log.file under $LogDir), then run this script again"
    $NoStart = $true
}
# Files copied in keep their own ACL: make everything below inherit the
# folder's (the folder itself keeps the protected ACL set above).
Invoke-Native icacls.exe @((Join-Path $DataDir '*'), '/reset', '/T', '/C', '/Q') "resetting ACLs under $DataDir"

# --- folders named in the config ----------------------------------------------
# Reads the plain block YAML of config.example.yaml: state_dir, each inbox's
# path/outbox/archive/failed, and log.file.
$section = ''
$folders = New-Object System.Collections.Generic.List[string]
foreach ($raw in Get-Content -LiteralPath $ConfFile) {
    if ($raw -match '^([A-Za-z_][A-Za-z0-9_]*):') { $section = $Matches[1] }
    $line = ($raw -replace '\s+#.*$', '') -replace '^#.*$', ''
    $kind = $null
    $value = $null
    if ($section -eq 'state_dir' -and $line -match '^state_dir:\s*(.*)$') {
        $kind = 'state_dir'; $value = $Matches[1]
    } elseif ($section -eq 'inboxes' -and $line -match '^\s*(?:-\s+)?(path|outbox|archive|failed):\s*(.*)$') {
        $kind = $Matches[1]; $value = $Matches[2]
    } elseif ($section -eq 'log' -and $line -match '^\s+file:\s*(.*)$') {
        $kind = 'log_file'; $value = $Matches[1]
    }
    if ($null -eq $value) { continue }
    $value = $value.Trim()
    if ($value -match '^"(.*)"$' -or $value -match "^'(.*)'$") { $value = $Matches[1] }
    # YAML double quotes escape backslashes: "\\\\server\\share" is \\server\share.
    if ($raw -match (':\s*"')) { $value = $value -replace '\\\\', '\' }
    if (-not $value) { continue }
    if ($value -match '\$\{') {
        Write-Warn "$kind '$value' uses an environment variable: create that folder yourself"
        continue
    }
    if ($kind -eq 'log_file') { $value = Split-Path -Parent $value }
    if (-not ([IO.Path]::IsPathRooted($value))) { $value = Join-Path $DataDir $value }
    $folders.Add($value)
}

# Drive letters mapped to shares exist only in a user's logon session.
$mapped = @{}
Get-CimInstance -ClassName Win32_LogicalDisk -Filter 'DriveType = 4' -ErrorAction SilentlyContinue |
    ForEach-Object { $mapped[$_.DeviceID.ToUpper()] = $_.ProviderName }
Get-PSDrive -PSProvider FileSystem | Where-Object { $_.DisplayRoot -like '\\*' } |
    ForEach-Object { $mapped["$($_.Name.ToUpper()):"] = $_.DisplayRoot }

$badDrive = $false
foreach ($dir in $folders) {
    if ($dir -match '^([A-Za-z]:)') {
        $drive = $Matches[1].ToUpper()
        if ($mapped.ContainsKey($drive)) {
            Write-Warn "$dir is on $drive, a drive mapped to $($mapped[$drive]): the service cannot see it. Use the UNC path ($($mapped[$drive])\...) in $ConfFile"
            $badDrive = $true
            continue
        }
        if (-not (Test-Path -LiteralPath "$drive\")) {
            Write-Warn "$dir is on $drive, which does not exist here (a mapped drive of another session?). Use a UNC path (\\server\share\folder) in $ConfFile"
            $badDrive = $true
            continue
        }
    }
    if ($dir.StartsWith('\\')) {
        if (-not (Test-Path -LiteralPath $dir)) {
            Write-Warn "$dir is not reachable from here: create it on the share, and give the computer account (or the service's logon account) modify rights"
        } else {
            Write-Step "$dir is a share: the service reaches it as the computer account unless you change its logon account"
        }
        continue
    }
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
    Invoke-Native icacls.exe @($dir, '/grant', "${SidSystem}:(OI)(CI)M", '/C', '/Q') "granting SYSTEM modify rights on $dir"
}
if ($badDrive) {
    Write-Warn 'the config names mapped drive letters: not starting the service until it uses UNC paths'
    $NoStart = $true
}

# --- the service ---------------------------------------------------------------
if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
    Write-Step "reinstalling the existing $ServiceName service"
    Invoke-Native $Exe @('service', 'uninstall', '--config', $ConfFile) 'flinkdrop service uninstall'
    # The SCM deletes a service once no handle to it is open.
    $deadline = (Get-Date).AddSeconds(30)
    while ((Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) -and (Get-Date) -lt $deadline) {
        Start-Sleep -Milliseconds 500
    }
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
        throw "install: the old $ServiceName service is still marked for deletion: close services.msc and Event Viewer, then run this again"
    }
}
Invoke-Native $Exe @('service', 'install', '--config', $ConfFile) 'flinkdrop service install'
Write-Step "installed the $ServiceName service (automatic, delayed start; restarts 5 s after a failure)"

if ($NoStart) {
    Write-Step "not started: run 'Start-Service $ServiceName' once the config is ready"
    exit 0
}

Write-Step "checking the config (as $($principal.Identity.Name); the service runs as LocalSystem)"
& $Exe check --config $ConfFile
if ($LASTEXITCODE -ne 0) {
    throw 'install: flinkdrop check failed: fix what it says, then run this script again (the service is installed but not started)'
}

Invoke-Native $Exe @('service', 'start', '--config', $ConfFile) 'flinkdrop service start'
Write-Step "started. State: '$Exe status --config $ConfFile'; errors also go to the Application event log (source $ServiceName)"

using XenSharp.Cli;

return XenSharpCommand.Run(args);
